"""The API's administration calls (accounts, subscriptions, the allowlist, keys, sweeps,
discovery, dead letters, the audit log, change control): `Call` values, as in the package."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from secmonkey.client import models as m
from secmonkey.client.calls import Call, Role, _call, _seg

__all__ = [
    "account",
    "accounts",
    "allowlist",
    "anchor_chain",
    "audit_log",
    "change_review",
    "change_reviews",
    "create_account",
    "create_key",
    "create_subscription",
    "dead_letter",
    "dead_letters",
    "evidence",
    "delete_account",
    "delete_allowlist",
    "delete_key",
    "delete_scope",
    "delete_subscription",
    "discover",
    "discovery",
    "export_chain",
    "keys",
    "latest_anchor",
    "purge_dead_letters",
    "put_allowlist",
    "put_scope",
    "replay_dead_letters",
    "review_change",
    "review_changes",
    "scopes",
    "subscription",
    "subscriptions",
    "sweep",
    "test_subscription",
    "update_account",
    "update_key",
    "update_subscription",
    "verify_chain",
]


# administration -------------------------------------------------------------------------


def accounts() -> Call[list[m.Account]]:
    return _call("GET", "/accounts", list[m.Account])


def account(account_id: str) -> Call[m.Account]:
    return _call("GET", f"/accounts/{_seg(account_id)}", m.Account)


def create_account(account: dict[str, Any]) -> Call[m.Account]:
    return _call("POST", "/accounts", m.Account, json=account)


def update_account(account_id: str, fields: dict[str, Any]) -> Call[m.Account]:
    return _call("PUT", f"/accounts/{_seg(account_id)}", m.Account, json=fields)


def delete_account(account_id: str) -> Call[None]:
    return _call("DELETE", f"/accounts/{_seg(account_id)}", None)


def subscriptions() -> Call[list[m.Subscription]]:
    return _call("GET", "/subscriptions", list[m.Subscription])


def subscription(subscription_id: str) -> Call[m.Subscription]:
    return _call("GET", f"/subscriptions/{_seg(subscription_id)}", m.Subscription)


def create_subscription(subscription: dict[str, Any]) -> Call[m.Subscription]:
    return _call("POST", "/subscriptions", m.Subscription, json=subscription)


def update_subscription(subscription_id: str, fields: dict[str, Any]) -> Call[m.Subscription]:
    return _call("PUT", f"/subscriptions/{_seg(subscription_id)}", m.Subscription, json=fields)


def delete_subscription(subscription_id: str) -> Call[None]:
    return _call("DELETE", f"/subscriptions/{_seg(subscription_id)}", None)


def test_subscription(subscription_id: str) -> Call[m.SubscriptionTestQueued]:
    path = f"/subscriptions/{_seg(subscription_id)}/test"
    return _call("POST", path, m.SubscriptionTestQueued)


def allowlist() -> Call[list[m.AllowlistEntry]]:
    return _call("GET", "/allowlist", list[m.AllowlistEntry])


def put_allowlist(name: str, cidr: str, description: str = "") -> Call[m.AllowlistEntry]:
    body = {"cidr": cidr, "description": description}
    return _call("PUT", f"/allowlist/{_seg(name)}", m.AllowlistEntry, json=body)


def delete_allowlist(name: str) -> Call[None]:
    return _call("DELETE", f"/allowlist/{_seg(name)}", None)


def audit_log(
    *,
    action: str | None = None,
    actor: str | None = None,
    target: str | None = None,
    since: datetime | str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[m.AuditPage]:
    return _call("GET", "/audit-log", m.AuditPage, dict(locals()))


def keys() -> Call[list[m.ApiKey]]:
    return _call("GET", "/keys", list[m.ApiKey])


def create_key(name: str, role: Role, expires_at: datetime | None = None) -> Call[m.CreatedKey]:
    body: dict[str, Any] = {"name": name, "role": role}
    if expires_at is not None:
        body["expires_at"] = expires_at.isoformat()
    return _call("POST", "/keys", m.CreatedKey, json=body)


def update_key(
    key_id: str, *, name: str | None = None, role: Role | None = None, enabled: bool | None = None
) -> Call[m.ApiKey]:
    body = {
        k: v for k, v in (("name", name), ("role", role), ("enabled", enabled)) if v is not None
    }
    return _call("PATCH", f"/keys/{_seg(key_id)}", m.ApiKey, json=body)


def delete_key(key_id: str) -> Call[None]:
    return _call("DELETE", f"/keys/{_seg(key_id)}", None)


def sweep(
    account_id: str | None = None, regions: Sequence[str] | None = None
) -> Call[m.SweepsQueued]:
    """Ask the collectors to sweep one account (None: every monitored account) now."""
    body = {"account_id": account_id, "regions": list(regions) if regions else None}
    return _call("POST", "/sweeps", m.SweepsQueued, json=body)


def discover() -> Call[m.DiscoveryView]:
    """Ask the collector to enrol the AWS organization's accounts now (admin)."""
    return _call("POST", "/accounts/discover", m.DiscoveryView)


def discovery(request_id: str) -> Call[m.DiscoveryView]:
    """A discovery request and, once the collector answered, what it did."""
    return _call("GET", f"/accounts/discover/{_seg(request_id)}", m.DiscoveryView)


# dead letters (admin) -------------------------------------------------------------------


def dead_letters(queue: str | None = None, *, limit: int | None = None) -> Call[m.DeadLetterList]:
    """Each consumer queue's dead-letter depth and messages (reason, age, publisher)."""
    return _call("GET", "/dead-letters", m.DeadLetterList, {"queue": queue, "limit": limit})


def dead_letter(queue: str, letter_id: str) -> Call[m.DeadLetterDetail]:
    return _call("GET", f"/dead-letters/{_seg(queue)}/{_seg(letter_id)}", m.DeadLetterDetail)


def replay_dead_letters(queue: str, ids: Sequence[str] | None = None) -> Call[m.DeadLetterOutcome]:
    """Put dead letters (None: all) back into the queue they came from."""
    body = {"all": True} if ids is None else {"ids": list(ids)}
    return _call("POST", f"/dead-letters/{_seg(queue)}/replay", m.DeadLetterOutcome, json=body)


def purge_dead_letters(queue: str, ids: Sequence[str] | None = None) -> Call[m.DeadLetterOutcome]:
    """Remove dead letters (None: all) for good."""
    params = {"all": True} if ids is None else {"id": list(ids)}
    return _call("DELETE", f"/dead-letters/{_seg(queue)}", m.DeadLetterOutcome, params)


# change control -----------------------------------------------------------------------


def scopes() -> Call[list[m.ScopeView]]:
    return _call("GET", "/scopes", list[m.ScopeView])


def put_scope(name: str, body: dict[str, Any]) -> Call[m.ScopeView]:
    return _call("PUT", f"/scopes/{_seg(name)}", m.ScopeView, json=body)


def delete_scope(name: str) -> Call[None]:
    return _call("DELETE", f"/scopes/{_seg(name)}", None)


def change_reviews(
    *,
    status: Literal["pending", "approved", "rejected"] | None = "pending",
    scope: str | None = None,
    account_id: str | None = None,
    overdue: bool | None = None,
    limit: int | None = None,
) -> Call[m.ReviewPage]:
    params = {
        "status": status,
        "scope": scope,
        "account_id": account_id,
        "overdue": overdue,
        "limit": limit,
    }
    return _call("GET", "/change-reviews", m.ReviewPage, params)


def change_review(review_id: str) -> Call[m.ReviewDetail]:
    return _call("GET", f"/change-reviews/{_seg(review_id)}", m.ReviewDetail)


def review_change(
    review_id: str,
    decision: Literal["approve", "reject"],
    ticket: str | None = None,
    comment: str | None = None,
) -> Call[m.ReviewView]:
    body = {"decision": decision, "ticket": ticket, "comment": comment}
    path = f"/change-reviews/{_seg(review_id)}/review"
    return _call("POST", path, m.ReviewView, json={k: v for k, v in body.items() if v})


def review_changes(
    ids: Sequence[str],
    decision: Literal["approve", "reject"],
    ticket: str | None = None,
    comment: str | None = None,
) -> Call[list[m.BulkResult]]:
    body = {"ids": list(ids), "decision": decision, "ticket": ticket, "comment": comment}
    clean = {k: v for k, v in body.items() if v}
    return _call("POST", "/change-reviews/review", list[m.BulkResult], json=clean)


def verify_chain(
    start: datetime | None = None, end: datetime | None = None
) -> Call[m.VerificationView]:
    return _call("GET", "/chain/verify", m.VerificationView, {"from": start, "to": end})


def export_chain() -> Call[dict[str, Any]]:
    return _call("GET", "/chain/export", dict[str, Any])


def anchor_chain() -> Call[m.AnchorView]:
    return _call("POST", "/chain/anchors", m.AnchorView)


def latest_anchor() -> Call[m.AnchorView]:
    return _call("GET", "/chain/anchors/latest", m.AnchorView)


def evidence(scope: str, start: datetime | None = None, end: datetime | None = None) -> Call[str]:
    """The evidence package (a zip) of a scope and period: read it with `Client.stream`."""
    return _call("GET", "/evidence", None, {"scope": scope, "from": start, "to": end})
