"""Groups, batches and sweeps for auditor tests, and a look at what the auditor stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from secmonkey.common.canonical import Attachments, CanonicalGroup, GroupSnapshot, Rule
from secmonkey.common.messages import SnapshotBatch, SweepCompleted
from secmonkey.common.storage import Database

ACCOUNT = "111111111111"
REGION = "eu-west-1"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ATTACHED = Attachments(interface_count=1, interface_types=["interface"], instance_ids=["i-1"])
UNATTACHED = Attachments()
PUBLIC = Attachments(interface_count=1, interface_types=["interface"], public_ip=True)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def key(group_id: str, account: str = ACCOUNT, region: str = REGION) -> str:
    return f"aws:{account}:{region}:{group_id}"


def ingress(
    ports: int | tuple[int, int] | None, source: str, protocol: str = "tcp", **kw: Any
) -> Rule:
    if isinstance(ports, int):
        ports = (ports, ports)
    low, high = ports if ports is not None else (None, None)
    kind = "group" if source.startswith("sg-") else "cidr6" if ":" in source else "cidr4"
    return Rule(
        direction=kw.pop("direction", "ingress"),
        protocol=protocol,
        from_port=low,
        to_port=high,
        source_kind=kind,  # type: ignore[arg-type]
        source=source,
        **kw,
    )


def snap(
    group_id: str,
    *rules: Rule,
    name: str | None = None,
    tags: dict[str, str] | None = None,
    attachments: Attachments = ATTACHED,
    account: str = ACCOUNT,
    vpc: str = "vpc-1",
) -> GroupSnapshot:
    config = CanonicalGroup(
        group_id=group_id,
        name=name or f"Group-{group_id}",
        description="test group",
        vpc_id=vpc,
        owner_id=account,
        tags=tags or {},
        rules=list(rules),
    )
    return GroupSnapshot.of(config, attachments)


def batch(
    seconds: float, *groups: GroupSnapshot, sweep: str = "sweep-1", account: str = ACCOUNT
) -> SnapshotBatch:
    return SnapshotBatch(
        sweep_id=sweep,
        account_id=account,
        region=REGION,
        observed_at=at(seconds),
        groups=list(groups),
    )


def completed(
    seconds: float,
    group_ids: list[str],
    *,
    complete: bool = True,
    started: float | None = None,
    sweep: str = "sweep-1",
    account: str = ACCOUNT,
) -> SweepCompleted:
    return SweepCompleted(
        sweep_id=sweep,
        account_id=account,
        region=REGION,
        observed_at=at(seconds),
        started_at=at(started) if started is not None else None,
        group_ids=group_ids,
        complete=complete,
        error=None if complete else "AccessDenied on page 3",
    )


async def revisions(db: Database, item_key: str) -> list[dict[str, Any]]:
    return await db.revisions.find({"key": item_key}).sort("seq", 1).to_list(None)


async def issues(db: Database, item_key: str) -> dict[str, dict[str, Any]]:
    docs = await db.issues.find({"key": item_key}).to_list(None)
    return {d["rule_id"] + "|" + d["rule_text"]: d for d in docs}


async def snapshot(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every document the auditor writes, to compare two states of the database."""
    out = {}
    for name in ("items", "revisions", "issues", "events", "rule_ranges", "rule_postings"):
        out[name] = await db[name].find({}).sort("_id", 1).to_list(None)
    out["group_ids"] = await db.group_ids.find({}).sort("_id", 1).to_list(None)
    return out
