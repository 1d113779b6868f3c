"""Accounts from AWS Organizations: every ACTIVE account of the organization enrolled,
every suspended, closed or departed one disabled (never deleted), labels kept from tags.

The organization is read with `SECMONKEY_ORGANIZATION_ROLE_ARN` (a role in the
management or delegated administrator account, assumed with
`SECMONKEY_ORGANIZATION_ROLE_EXTERNAL_ID`), or with the collector's own credentials when
it is not set. An enrolled account's role is `SECMONKEY_ORGANIZATION_MEMBER_ROLE` with
its account ID; its ExternalId is `SECMONKEY_ORGANIZATION_EXTERNAL_ID`, one secret of the
organization, never derived from the account ID. What is decided is in `decide`; how
tags become labels is in `read`.

Discovery runs every `SECMONKEY_ORGANIZATION_DISCOVERY_SECONDS` on the replica holding
the scheduler lease, and once with `python -m secmonkey.collector discover`. Each
enrolment and disabling is a `system.account_enrolled` / `system.account_disabled` event,
stored in `events` and published on `secmonkey.events` as the watchdog's are. The event
is kept in the account's `organization_accounts` document (its outbox) before the account
is written, and leaves it once stored and published: a crash delays it, never loses it,
and a second run raises nothing new.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from secmonkey.collector import state_outbox
from secmonkey.collector.credentials import AwsClients
from secmonkey.collector.lease import Lease
from secmonkey.collector.organizations.decide import DISABLED, ENROLLED, OrgState, Step, decide
from secmonkey.collector.organizations.read import list_accounts
from secmonkey.collector.settings import Settings
from secmonkey.common import accounts, discovery_requests, storage
from secmonkey.common.amqp import Publisher
from secmonkey.common.documents import Account
from secmonkey.common.errors import InvalidInput
from secmonkey.common.messages import Event, SystemRef, utcnow
from secmonkey.common.severity import Severity
from secmonkey.common.storage import Database

log = logging.getLogger(__name__)

__all__ = ["Discovery", "DiscoveryResult"]

STATES = "organization_accounts"
SEVERITY = {ENROLLED: Severity.INFO, DISABLED: Severity.MEDIUM}


@dataclass
class DiscoveryResult:
    listed: int = 0
    enrolled: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    sent: list[Event] = field(default_factory=list)


def account_event(step: Step, at: datetime) -> Event:
    """The event of one enrolment or disabling; its id names the account's generation, so
    the same transition always gives the same event."""
    assert step.event is not None
    state = step.state
    digest = hashlib.sha256(
        "\x1f".join((step.event, state.id, str(state.generation))).encode()
    ).hexdigest()[:32]
    return Event(
        event_id=digest,
        type=step.event,
        key=f"system:account:{state.id}",
        account_id=state.id,
        account_name=step.name or None,
        at=at,
        system=SystemRef(
            subject=f"account {step.name} ({state.id})",
            detail=step.detail,
            severity=SEVERITY[step.event],
            since=at,
        ),
    )


class Discovery:
    """Enrols the organization's accounts; `run` repeats it while holding the lease."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        publisher: Publisher,
        clients: AwsClients,
        lease: Lease | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.publisher = publisher
        self.clients = clients
        self.lease = lease

    def _client(self) -> Any:
        arn = self.settings.organization_role_arn
        if arn is None:
            return self.clients.hub_client("organizations")
        management = Account.model_validate(
            {
                "_id": arn.split(":")[4],
                "name": "organization management",
                "role_arn": arn,
                "external_id": self.settings.organization_role_external_id,
            }
        )
        return self.clients.client(management, "organizations", self.settings.aws_region)

    async def run(self) -> None:
        """While this replica holds the lease (always, without one): discover every period
        (if periodic discovery is on) and whenever someone asked for it."""
        periodic = self.settings.organization_discovery_seconds
        next_round = time.monotonic() if periodic > 0 else math.inf
        while True:
            if self.lease is None or self.lease.held:
                try:
                    asked = await discovery_requests.pending_ids(self.db)
                    if asked or time.monotonic() >= next_round:
                        if periodic > 0:
                            next_round = time.monotonic() + periodic
                        await self.answer(asked)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("organization discovery failed; trying again next period")
            await asyncio.sleep(self.settings.renew_every)

    async def answer(self, request_ids: list[str]) -> DiscoveryResult | None:
        """Discover once and record the outcome on each request that asked for it."""
        outcome: dict[str, Any]
        result = None
        try:
            result = await self.discover()
            outcome = {
                "status": "done",
                "listed": result.listed,
                "enrolled": result.enrolled,
                "disabled": result.disabled,
            }
        except Exception as exc:
            if not request_ids:
                raise
            log.exception("organization discovery failed")
            outcome = {"status": "failed", "error": str(exc)[:500]}
        if request_ids:
            outcome["finished_at"] = utcnow()
            await self.db.discovery_requests.update_many(
                {"_id": {"$in": request_ids}}, {"$set": outcome}
            )
        return result

    async def discover(self, now: datetime | None = None) -> DiscoveryResult:
        """One round: list the organization, decide, write, then store and publish."""
        if not self.settings.organization_external_id:
            raise InvalidInput(
                "SECMONKEY_ORGANIZATION_EXTERNAL_ID is needed: the ExternalId of the "
                "organization's member roles"
            )
        now = now or utcnow()
        listed = await asyncio.to_thread(list_accounts, self._client())
        states = {
            doc["_id"]: OrgState.model_validate(doc)
            for doc in await storage.with_retry(
                lambda: self.db.organization_accounts.find({}).to_list(None),
                what="reading organization accounts",
            )
        }
        ids = sorted({o.id for o in listed} | set(states))
        known = {a.id: a for a in await accounts.accounts_by_id(self.db, ids)}
        result = DiscoveryResult(listed=len(listed))
        for step in decide(listed, known, states, self.settings).steps:
            state = step.state
            state.updated_at = now
            if step.event is not None:
                state.outbox.append(account_event(step, now).model_dump(mode="json"))
                (result.enrolled if step.event == ENROLLED else result.disabled).append(state.id)
                log.info("%s: account %s (%s)", step.event, step.name, state.id)
            if step.event is not None or state != states.get(state.id):
                await self._save(state)
            states[state.id] = state
            if step.write is not None:
                await accounts.upsert_accounts(self.db, [step.write])
        result.sent = await self._send(states)
        log.info(
            "organization: %d account(s) listed, %d enrolled, %d disabled",
            result.listed,
            len(result.enrolled),
            len(result.disabled),
        )
        return result

    async def _save(self, state: OrgState) -> None:
        await storage.with_retry(
            lambda: self.db.organization_accounts.replace_one(
                {"_id": state.id}, state.to_mongo(), upsert=True
            ),
            what="saving an organization account",
        )

    async def _send(self, states: dict[str, OrgState]) -> list[Event]:
        """Store and publish every event still in an outbox, then empty it."""
        return await state_outbox.drain(self.db, self.publisher, states.values(), self._save)
