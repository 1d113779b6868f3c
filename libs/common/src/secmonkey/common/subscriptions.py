"""Which events a subscription hears of: the notifier routes with it, the API can preview with it.

Every filter that is set must match (AND); within one filter any value may match (OR).
Account IDs and account labels together form one filter: an event matches when its
account is listed or carries one of the labels. `min_severity` and `rule_ids` concern
issues: when either is set, group events (which have no severity or rule) do not match.
Event types accept `issue.*` / `group.*` / `system.*` and `*`.

System events (`system.*`, secmonkey's own health) go through the same filters, on what
they name: `system.sweep_overdue` names its account, so account filters (IDs or labels)
select it as they select that account's changes; it names no region, since every region
of the account is unwatched, so a region filter does not drop it. An event about the
whole system (queues, consumers) names no account and no region: account and region
filters do not drop it either, because every account's alerts depend on it. To keep
them out, filter on event types. A minimum severity applies (system events carry one);
a rule filter drops them (they have no rule).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from secmonkey.common.documents import Subscription, SubscriptionFilters
from secmonkey.common.messages import (
    EVENT_FAMILIES,
    EVENT_TYPE_PATTERN,
    KNOWN_EVENT_TYPES,
    RESERVED_FAMILIES,
    Event,
    event_family,
)
from secmonkey.common.severity import Severity


def type_matches(event_type: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        if pattern in ("*", event_type):
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def type_filter_known(pattern: str) -> bool:
    """Whether a subscription may filter on `pattern`: `*`, a family (`system.*`), a known
    type, or any type of a family reserved for this wave (`admin.…`, `change.…`)."""
    if pattern == "*" or pattern in KNOWN_EVENT_TYPES:
        return True
    if pattern.endswith(".*"):
        return pattern[:-2] in EVENT_FAMILIES
    return (
        event_family(pattern) in RESERVED_FAMILIES
        and re.fullmatch(EVENT_TYPE_PATTERN, pattern) is not None
    )


def filters_match(
    filters: SubscriptionFilters, event: Event, account_labels: Iterable[str] = ()
) -> bool:
    """Does `event` (of an account carrying `account_labels`) pass `filters`?"""
    if filters.event_types and not type_matches(event.type, filters.event_types):
        return False
    if (filters.account_ids or filters.account_labels) and event.account_id is not None:
        by_id = event.account_id in filters.account_ids
        if not by_id and not set(filters.account_labels).intersection(account_labels):
            return False
    if filters.regions and event.region is not None and event.region not in filters.regions:
        return False
    if filters.min_severity is not None:
        severity = event.severity
        if severity is None or not Severity(severity).at_least(filters.min_severity):
            return False
    if filters.rule_ids:
        return event.issue is not None and event.issue.rule_id in filters.rule_ids
    return True


def matches(subscription: Subscription, event: Event, account_labels: Iterable[str] = ()) -> bool:
    """Is `subscription` enabled and does `event` pass its filters?"""
    return subscription.enabled and filters_match(subscription.filters, event, account_labels)
