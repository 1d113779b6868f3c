"""Reading one account's flow logs: per region and place, the units not read yet, in
journalled batches, into the groups' usage summaries (see `checkpoints`)."""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from secmonkey.collector.flowlogs import checkpoints, places, summary
from secmonkey.collector.flowlogs.inventory import Inventory, read_inventory
from secmonkey.collector.flowlogs.records import Counts, LineFormat, count_lines
from secmonkey.collector.flowlogs.tally import Tally
from secmonkey.common.documents import Account
from secmonkey.common.rule_usage import FlowLogPlace
from secmonkey.common.storage import Database

log = logging.getLogger(__name__)
T = TypeVar("T")
LINES_PER_CHUNK = 50_000
MAX_KEYS = 200_000
ClientFor = Callable[[Account, str, str], Any]


@dataclass
class ReadStats:
    units: int = 0
    records: int = 0
    accepted_inbound: int = 0
    replies: int = 0
    unattributed: int = 0
    unknown_interface: int = 0
    malformed: int = 0
    read_seconds: float = 0.0
    write_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def log_account(place: FlowLogPlace) -> Account | None:
    """The log-archive account a place is read through, when it has its own role."""
    if place.role_arn is None:
        return None
    account_id = place.role_arn.split(":")[4]
    return Account.model_validate(
        {
            "_id": account_id,
            "name": f"log archive {account_id}",
            "role_arn": place.role_arn,
            "external_id": place.external_id,
        }
    )


def _day_of_unit(place: FlowLogPlace, unit: str) -> str:
    if place.kind == "cloudwatch":
        return datetime.fromtimestamp(int(unit), UTC).strftime("%Y-%m-%d")
    return unit


class FlowLogReader:
    """Reads flow logs into `rule_usage_summary`; one reader at a time (the scheduler
    lease holder), so summaries are read, merged and replaced without conditional writes."""

    def __init__(
        self,
        db: Database,
        client_for: ClientFor,
        *,
        backfill_days: int = 1,
        batch_units: int = 200,
        run_in_thread: Callable[..., Any] | None = None,
    ) -> None:
        self.db = db
        self.client_for = client_for
        self.backfill_days = backfill_days
        self.batch_units = batch_units
        self._thread = run_in_thread

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        if self._thread is not None:
            return await self._thread(fn, *args)  # type: ignore[no-any-return]
        return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args))

    def _client(self, account: Account, place: FlowLogPlace, service: str, region: str) -> Any:
        owner = log_account(place) or account
        return self.client_for(owner, service, place.region or region)

    async def read_account(
        self, account: Account, regions: list[str], now: datetime | None = None
    ) -> ReadStats:
        stats = ReadStats()
        now = now or datetime.now(UTC)
        for region in regions:
            ec2 = self.client_for(account, "ec2", region)
            inventory = await self._in_thread(
                read_inventory, ec2, account.id, region, account.flow_logs
            )
            docs = await checkpoints.load_summaries(self.db, account.id, region)
            stored = set(docs)
            start = (now - timedelta(days=self.backfill_days)).replace(
                hour=0, minute=0, second=0, microsecond=0
            )
            since_all: list[datetime] = []
            work: list[tuple[FlowLogPlace, str | None, str, list[tuple[str, str]]]] = []
            for place in account.flow_logs:
                scope = checkpoints.scope_id(account.id, region, place.place_id())
                since = await checkpoints.cursor(self.db, scope, start)
                since_all.append(since)
                journalled: set[tuple[str, str]] = set()
                for batch in await checkpoints.open_batches(self.db, scope):
                    units = [(u["day"], u["unit"]) for u in batch["units"]]
                    journalled.update(units)
                    work.append((place, batch["_id"], scope, units))
                pending = [
                    unit
                    for unit in await self._pending(account, region, place, scope, since, now)
                    if unit not in journalled  # an open batch re-reads it, with its own id
                ]
                for first in range(0, len(pending), self.batch_units):
                    work.append((place, None, scope, pending[first : first + self.batch_units]))
            covered_from = min(since_all, default=None)
            for n, (place, batch_id, scope, units) in enumerate(work):
                if batch_id is None:
                    batch_id = await checkpoints.begin_batch(self.db, scope, units)
                await self._batch(
                    batch_id,
                    units,
                    account,
                    place,
                    inventory,
                    docs,
                    stored,
                    stats,
                    now,
                    final=n == len(work) - 1,
                    covered_from=covered_from,
                )
            if not work:
                began = time.perf_counter()
                await checkpoints.save_summaries(
                    self.db, refresh(inventory, docs, now, covered_from), stored
                )
                stats.write_seconds += time.perf_counter() - began
        return stats

    async def _pending(
        self,
        account: Account,
        region: str,
        place: FlowLogPlace,
        scope: str,
        since: datetime,
        now: datetime,
    ) -> list[tuple[str, str]]:
        """(day, unit) not read yet, oldest first."""
        first = max(since, now - timedelta(days=summary.HISTORY_DAYS))
        found: list[tuple[str, str]] = []
        if place.kind == "cloudwatch":
            for unit in places.cloudwatch_units(first, now):
                found.append((_day_of_unit(place, unit.name), unit.name))
        else:
            s3 = self._client(account, place, "s3", region)
            day = first.replace(hour=0, minute=0, second=0, microsecond=0)
            while day <= now:
                prefix = places.s3_day_prefix(place, account.id, region, day)
                names = await self._in_thread(
                    lambda p=prefix: [u.name for u in places.s3_units(s3, place, p)]
                )
                found += [(f"{day:%Y-%m-%d}", n) for n in names]
                day += timedelta(days=1)
        done: dict[str, set[str]] = {}
        pending = []
        for day_text, name in found:
            if day_text not in done:
                done[day_text] = await checkpoints.done_units(self.db, scope, day_text)
            if name not in done[day_text]:
                pending.append((day_text, name))
        return pending

    async def _batch(
        self,
        batch_id: str,
        units: list[tuple[str, str]],
        account: Account,
        place: FlowLogPlace,
        inventory: Inventory,
        docs: dict[str, dict[str, Any]],
        stored: set[str],
        stats: ReadStats,
        now: datetime,
        *,
        final: bool = False,
        covered_from: datetime | None = None,
    ) -> None:
        """Read, merge and save one journalled batch. The run's last batch (`final`: the
        coverage start) saves every summary of the region, refreshed, in the same write."""
        service = "s3" if place.kind == "s3" else "logs"
        client = self._client(account, place, service, inventory.region)
        began = time.perf_counter()
        tally, counts = await self._in_thread(read_units, client, place, units, inventory)
        stats.read_seconds += time.perf_counter() - began
        stats.units += len(units)
        stats.records += counts.records
        stats.accepted_inbound += counts.accepted_inbound
        stats.replies += counts.replies
        stats.unknown_interface += counts.unknown_interface
        stats.malformed += counts.malformed
        stats.unattributed += tally.unattributed
        began = time.perf_counter()
        touched = merge(batch_id, tally, inventory, docs, now)
        if final:
            changed = refresh(inventory, docs, now, covered_from)
        else:
            changed = [docs[k] for k in sorted(touched)]
        await checkpoints.save_summaries(self.db, changed, stored)
        await checkpoints.end_batch(self.db, batch_id, units)
        stats.write_seconds += time.perf_counter() - began


def _chunks(lines: Iterator[str]) -> Iterator[list[str]]:
    while chunk := list(itertools.islice(lines, LINES_PER_CHUNK)):
        yield chunk


def read_units(
    client: Any, place: FlowLogPlace, units: list[tuple[str, str]], inventory: Inventory
) -> tuple[Tally, Counts]:
    """Stream every unit through the hot loop; counts are attributed whenever they grow
    past `MAX_KEYS`, so memory stays bounded whatever the volume."""
    counts = Counts()
    tally = Tally()
    formats: dict[tuple[str, ...], LineFormat] = {}
    for _, name in units:
        if place.kind == "s3":
            fields, lines = places.s3_lines(client, place, places.Unit(name))
        else:
            fields, lines = (
                place.fields(),
                places.cloudwatch_lines(client, place, places.Unit(name)),
            )
        fmt = formats.get(tuple(fields))
        if fmt is None:
            fmt = formats[tuple(fields)] = LineFormat.of(fields)
        for chunk in _chunks(lines):
            count_lines(chunk, fmt, inventory.addresses, counts)
            if len(counts.keys) > MAX_KEYS:
                tally.drain(counts, inventory)
    tally.drain(counts, inventory)
    return tally, counts


def _doc(docs: dict[str, dict[str, Any]], inventory: Inventory, group_id: str) -> dict[str, Any]:
    key = inventory.key(group_id)
    doc = docs.get(key)
    if doc is None:
        doc = docs[key] = {
            "_id": key,
            "account_id": inventory.account_id,
            "region": inventory.region,
            "rules": [],
            "batches": [],
            "as_of": None,
        }
    return doc


def _rule_state(doc: dict[str, Any], text: str) -> dict[str, Any]:
    for state in doc["rules"]:
        if state["rule"] == text:
            return state  # type: ignore[no-any-return]
    state = summary.new_rule_state(text)
    doc["rules"].append(state)
    return state


def merge(
    batch_id: str,
    tally: Tally,
    inventory: Inventory,
    docs: dict[str, dict[str, Any]],
    now: datetime,
) -> set[str]:
    """Merge a batch's tally into the summaries that do not hold it yet; their keys."""
    touched: set[str] = set()
    skipped: set[str] = set()
    for (group_id, text, day), rule_day in sorted(tally.days.items()):
        doc = _doc(docs, inventory, group_id)
        if doc["_id"] in skipped or (doc["_id"] not in touched and batch_id in doc["batches"]):
            skipped.add(doc["_id"])
            continue
        summary.merge_rule(_rule_state(doc, text), day, rule_day)
        touched.add(doc["_id"])
    for key in touched:
        docs[key]["batches"] = (docs[key]["batches"] + [batch_id])[-summary.KEEP_BATCHES :]
    return touched


def coverage(
    inventory: Inventory, group_id: str, since: datetime | None
) -> tuple[list[str], list[str], datetime | None]:
    """(interfaces, those without flow logs, since when all of them have had logs)."""
    interfaces = inventory.interfaces_of(group_id)
    uncovered = [e for e in interfaces if e not in inventory.logged_since]
    if uncovered or not interfaces or since is None:
        return interfaces, uncovered, None
    latest = max(inventory.logged_since[e] for e in interfaces)
    return interfaces, uncovered, max(latest, since)


def refresh(
    inventory: Inventory,
    docs: dict[str, dict[str, Any]],
    now: datetime,
    since: datetime | None,
) -> list[dict[str, Any]]:
    """Every group's summary as of `now`: its current ingress rules (a removed rule's
    usage goes with it), coverage, and the facts the rules and the API read."""
    out = []
    for group_id, texts in sorted(inventory.rule_texts.items()):
        doc = _doc(docs, inventory, group_id)
        interfaces, uncovered, covered_since = coverage(inventory, group_id, since)
        states = []
        for text in texts:
            state = _rule_state(doc, text)
            summary.expire_rule(state, summary.epoch_day(now))
            unresolved = (group_id, text) in inventory.unresolved
            states.append(summary.present(state, now, covered_since, unresolved))
        doc.update(
            rules=states,
            as_of=now,
            interfaces=len(interfaces),
            uncovered=uncovered,
            covered_since=covered_since,
        )
        out.append(doc)
    return out
