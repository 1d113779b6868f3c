"""The audited operations: each does the change through the query layer and records it.

The REST routes and the console call these (never the writes of the query layer
directly), so a change is recorded however it was made.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from secmonkey.api.audit.trail import Trail
from secmonkey.api.auth import KeyVerifier, Principal
from secmonkey.api.evidence.package import Package
from secmonkey.api.queries import accounts, allowlist, evidence, issues, keys, subscriptions
from secmonkey.api.queries.sweeps import request_sweeps
from secmonkey.api.schemas.admin import (
    AccountFields,
    AccountIn,
    AccountView,
    AllowlistIn,
    AllowlistNew,
    AllowlistView,
    KeyCreated,
    KeyIn,
    KeyUpdate,
    KeyView,
    SubscriptionIn,
    SubscriptionTestQueued,
    SubscriptionView,
    SweepIn,
    SweepsQueued,
)
from secmonkey.api.schemas.issues import IssueView, JustificationIn
from secmonkey.api.settings import Settings
from secmonkey.common.errors import InvalidInput, NotFound
from secmonkey.common.severity import Severity

# An allowlist entry wider than these silences findings across much of the internet.
WIDEST_IPV4_PREFIX = 8
WIDEST_IPV6_PREFIX = 32


async def _or_none(read: Any) -> Any:
    try:
        return await read
    except NotFound:
        return None


# keys


async def create_key(trail: Trail, body: KeyIn) -> KeyCreated:
    created = await keys.new_key(trail.db, body)
    await trail.record("key.created", created.id, after=KeyView(**created.model_dump()))
    return created


async def update_key(
    trail: Trail, verifier: KeyVerifier, caller: Principal, key_id: str, body: KeyUpdate
) -> KeyView:
    before = await keys.get_key(trail.db, key_id)
    after = await keys.update_key(trail.db, verifier, caller, key_id, body)
    if after.enabled is False:
        await _end_sessions(trail, key_id)
    await trail.record("key.updated", key_id, before=before, after=after)
    return after


async def delete_key(trail: Trail, verifier: KeyVerifier, caller: Principal, key_id: str) -> None:
    before = await keys.get_key(trail.db, key_id)
    await keys.delete_key(trail.db, verifier, caller, key_id)
    await _end_sessions(trail, key_id)
    await trail.record("key.revoked", key_id, before=before)


async def _end_sessions(trail: Trail, key_id: str) -> None:
    from secmonkey.api.web.sessions_store import end_sessions_of

    await end_sessions_of(trail.db, key_id)


# accounts


async def create_account(trail: Trail, body: AccountIn) -> AccountView:
    created = await accounts.create_account(trail.db, body)
    await trail.record("account.created", created.id, after=created)
    return created


async def update_account(trail: Trail, account_id: str, body: AccountFields) -> AccountView:
    before = await _or_none(accounts.get_account(trail.db, account_id))
    after = await accounts.update_account(trail.db, account_id, body)
    await trail.record("account.updated", account_id, before=before, after=after)
    return after


async def delete_account(trail: Trail, account_id: str) -> None:
    before = await accounts.get_account(trail.db, account_id)
    await accounts.delete_account(trail.db, account_id)
    await trail.record("account.deleted", account_id, before=before)


# allowlist


def _width_check(cidr: str, force: bool) -> bool:
    """True when the network is wider than the widest allowed; `InvalidInput` unless forced."""
    network = ipaddress.ip_network(cidr, strict=False)
    widest = WIDEST_IPV4_PREFIX if network.version == 4 else WIDEST_IPV6_PREFIX
    if network.prefixlen >= widest:
        return False
    if not force:
        raise InvalidInput(
            f"cidr: {cidr} is wider than /{widest}: it would silence findings across much of "
            'the internet; send "force": true to add it anyway (a high-severity admin event '
            "is raised)"
        )
    return True


async def _allowlist_recorded(
    trail: Trail, action: str, entry: AllowlistView, before: Any, wide: bool
) -> None:
    await trail.record(action, entry.name, before=before, after=entry)
    if wide:
        await trail.record(
            "allowlist.forced",
            entry.name,
            after=entry,
            severity=Severity.HIGH,
            detail=f"a forced wide allowlist entry {entry.name} ({entry.cidr}) silences findings",
        )


async def create_allowlist_entry(trail: Trail, body: AllowlistNew) -> AllowlistView:
    wide = _width_check(body.cidr, body.force)
    entry = await allowlist.create_entry(trail.db, body)
    await _allowlist_recorded(trail, "allowlist.created", entry, None, wide)
    return entry


async def put_allowlist_entry(trail: Trail, name: str, body: AllowlistIn) -> AllowlistView:
    wide = _width_check(body.cidr, body.force)
    before = await _or_none(allowlist.get_entry(trail.db, name))
    entry = await allowlist.put_entry(trail.db, name, body)
    await _allowlist_recorded(trail, "allowlist.updated", entry, before, wide)
    return entry


async def delete_allowlist_entry(trail: Trail, name: str) -> None:
    before = await allowlist.get_entry(trail.db, name)
    await allowlist.delete_entry(trail.db, name)
    await trail.record("allowlist.deleted", name, before=before)


# subscriptions


async def create_subscription(
    trail: Trail, settings: Settings, body: SubscriptionIn
) -> SubscriptionView:
    created = await subscriptions.create_subscription(trail.db, settings, body)
    await trail.record("subscription.created", created.id, after=created)
    return created


async def update_subscription(
    trail: Trail, settings: Settings, subscription_id: str, body: SubscriptionIn
) -> SubscriptionView:
    before = await subscriptions.get_subscription(trail.db, subscription_id)
    after = await subscriptions.update_subscription(trail.db, settings, subscription_id, body)
    await trail.record("subscription.updated", subscription_id, before=before, after=after)
    return after


async def delete_subscription(trail: Trail, subscription_id: str) -> None:
    before = await subscriptions.get_subscription(trail.db, subscription_id)
    await subscriptions.delete_subscription(trail.db, subscription_id)
    await trail.record("subscription.deleted", subscription_id, before=before)


async def test_subscription(trail: Trail, subscription_id: str) -> SubscriptionTestQueued:
    queued = await subscriptions.send_test(trail.db, subscription_id)
    await trail.record("subscription.tested", subscription_id, after=queued)
    return queued


# issues and sweeps


async def justify(trail: Trail, who: Principal, issue_id: str, body: JustificationIn) -> IssueView:
    before = await issues.get_issue(trail.db, issue_id)
    after = await issues.justify_issue(trail.db, trail.outbox, who, issue_id, body)
    await trail.record("issue.justified", issue_id, before=before, after=after)
    return after


async def withdraw(trail: Trail, issue_id: str) -> None:
    before = await _or_none(issues.get_issue(trail.db, issue_id))
    await issues.withdraw_justification(trail.db, issue_id)
    await trail.record("issue.justification_withdrawn", issue_id, before=before)


async def request_sweep(trail: Trail, queue: str, who: Principal, body: SweepIn) -> SweepsQueued:
    queued = await request_sweeps(trail.db, trail.outbox, queue, who, body)
    wanted = body.wanted()
    target = ", ".join(wanted) if wanted else "every account"
    await trail.record("sweep.requested", target, after=queued)
    return queued


# evidence


async def download_evidence(
    trail: Trail, settings: Settings, scope: str, start: Any, end: Any
) -> Package:
    """Build the evidence package of `scope` over [start, end]; its download is recorded
    (the zip's SHA-256 and size, the chain verification result) before it is sent."""
    period = await evidence.period_of(trail.db, scope, start, end)
    built = await evidence.build_package(trail.db, settings, period, trail.actor.name)
    try:
        await trail.record(
            "evidence.downloaded",
            scope,
            after={
                "scope": scope,
                "from": period.start.isoformat(),
                "to": period.end.isoformat(),
                "file": built.name,
                "bytes": built.size,
                "sha256": built.sha256,
                "counts": built.manifest["counts"],
                "chain_ok": built.manifest["chain_verification"]["ok"],
            },
            detail=f"evidence package of scope {scope} ({built.name}, sha256 {built.sha256})",
        )
    except BaseException:
        built.discard()
        raise
    return built
