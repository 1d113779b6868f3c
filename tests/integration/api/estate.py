"""A small, realistic estate, written by the auditor's own code from collector messages.

Two accounts; in PROD/us-east-1 a `web` group whose history is create → change →
change → delete (absent from a complete sweep), a database group with IPv4, IPv6 and
group-reference rules, and a legacy group open to the whole internet; in DEV/eu-west-1
a bastion with narrow IPv4/IPv6 sources. Every document the API reads comes from
`Auditor.handle(SnapshotBatch | SweepCompleted)`, never from hand-made shortcuts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from secmonkey.common.canonical import Attachments, CanonicalGroup, GroupSnapshot, Rule
from secmonkey.common.documents import Account
from secmonkey.common.messages import SnapshotBatch, SweepCompleted, new_id
from secmonkey.common.storage import Database

PROD, DEV = "111111111111", "222222222222"
EAST, WEST = "us-east-1", "eu-west-1"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TIMES = [T0, T0 + timedelta(days=1), T0 + timedelta(days=2), T0 + timedelta(days=3)]

WEB = "sg-0a1b2c3d4e5f60001"
DB = "sg-0a1b2c3d4e5f60002"
LEGACY = "sg-0a1b2c3d4e5f60003"
BASTION = "sg-0a1b2c3d4e5f60004"
UNKNOWN = "sg-0fffffffffffffff9"


def rule(
    direction: str,
    protocol: str,
    ports: tuple[int, int] | None,
    source: str,
    kind: str = "cidr4",
    description: str = "",
    account: str | None = None,
) -> Rule:
    low, high = ports if ports else (None, None)
    return Rule.model_validate(
        {
            "direction": direction,
            "protocol": protocol,
            "from_port": low,
            "to_port": high,
            "source_kind": kind,
            "source": source,
            "source_account": account,
            "description": description,
        }
    )


def group(
    group_id: str,
    name: str,
    rules: list[Rule],
    *,
    owner: str = PROD,
    vpc: str = "vpc-0aaa1111",
    tags: dict[str, str] | None = None,
    description: str = "",
) -> CanonicalGroup:
    return CanonicalGroup(
        group_id=group_id,
        name=name,
        description=description,
        vpc_id=vpc,
        owner_id=owner,
        tags=tags or {},
        rules=rules,
    ).normalised()


HTTPS_WORLD = rule("ingress", "tcp", (443, 443), "0.0.0.0/0")
HTTPS_WORLD6 = rule("ingress", "tcp", (443, 443), "::/0", "cidr6")
SSH_OFFICE = rule("ingress", "tcp", (22, 22), "198.51.100.0/24", description="office")
SSH_WORLD = rule("ingress", "tcp", (22, 22), "0.0.0.0/0", description="temporary")
EGRESS_ALL = rule("egress", "-1", None, "0.0.0.0/0")

WEB_V1 = group(WEB, "web", [HTTPS_WORLD, HTTPS_WORLD6, EGRESS_ALL], tags={"env": "prod"})
WEB_V2 = group(
    WEB, "web", [HTTPS_WORLD, HTTPS_WORLD6, SSH_OFFICE, EGRESS_ALL], tags={"env": "prod"}
)
WEB_V3 = group(WEB, "web", [HTTPS_WORLD, HTTPS_WORLD6, SSH_WORLD, EGRESS_ALL], tags={"env": "prod"})
DATABASE = group(
    DB,
    "orders-db",
    [
        rule("ingress", "tcp", (5432, 5432), "10.0.0.0/16", description="app subnets"),
        rule("ingress", "tcp", (5432, 5432), "fd00:1234::/32", "cidr6"),
        rule("ingress", "tcp", (5432, 5432), WEB, "group", account=PROD),
        EGRESS_ALL,
    ],
)
LEGACY_OPEN = group(
    LEGACY,
    "Legacy-Open",
    [rule("ingress", "-1", None, "0.0.0.0/0"), rule("ingress", "-1", None, "::/0", "cidr6")],
)
BASTION_V1 = group(
    BASTION,
    "dev-bastion",
    [
        rule("ingress", "tcp", (22, 22), "203.0.113.7/32", description="admin home"),
        rule("ingress", "tcp", (3389, 3389), "2001:db8:abcd::/48", "cidr6"),
        rule("ingress", "tcp", (8080, 8080), "10.20.0.0/16"),
        rule("egress", "tcp", (443, 443), "::/0", "cidr6"),
    ],
    owner=DEV,
    vpc="vpc-0bbb2222",
)

PUBLIC = Attachments(interface_count=2, interface_types=["interface"], public_ip=True)
PRIVATE = Attachments(interface_count=1, interface_types=["interface"], public_ip=False)
UNATTACHED = Attachments()

# Sweeps: (account, region, at, [(config, attachments)]); each is complete.
SWEEPS: list[tuple[str, str, datetime, list[tuple[CanonicalGroup, Attachments]]]] = [
    (PROD, EAST, TIMES[0], [(WEB_V1, PUBLIC), (DATABASE, PRIVATE), (LEGACY_OPEN, UNATTACHED)]),
    (DEV, WEST, TIMES[0], [(BASTION_V1, PUBLIC)]),
    (PROD, EAST, TIMES[1], [(WEB_V2, PUBLIC), (DATABASE, PRIVATE), (LEGACY_OPEN, UNATTACHED)]),
    (PROD, EAST, TIMES[2], [(WEB_V3, PUBLIC), (DATABASE, PRIVATE), (LEGACY_OPEN, UNATTACHED)]),
    (PROD, EAST, TIMES[3], [(DATABASE, PRIVATE), (LEGACY_OPEN, UNATTACHED)]),
]
ACCOUNTS = [
    Account(id=PROD, name="prod", labels=["pci"], regions=[EAST]),
    Account(id=DEV, name="dev", regions=[WEST]),
]


def messages(
    account: str, region: str, at: datetime, groups: list[tuple[CanonicalGroup, Attachments]]
) -> list[SnapshotBatch | SweepCompleted]:
    """What the collector publishes for one complete sweep of one account-region."""
    sweep_id = new_id()
    batch = SnapshotBatch(
        sweep_id=sweep_id,
        account_id=account,
        region=region,
        observed_at=at,
        groups=[GroupSnapshot.of(config, attachments) for config, attachments in groups],
    )
    done = SweepCompleted(
        sweep_id=sweep_id,
        account_id=account,
        region=region,
        observed_at=at,
        started_at=at - timedelta(seconds=5),
        group_ids=[config.group_id for config, _ in groups],
        complete=True,
    )
    return [batch, done]


@dataclass
class Estate:
    """What was built, for tests to compare the API's answers with."""

    events: list[Any] = field(default_factory=list)


async def build(db: Database) -> Estate:
    """Store the accounts, then run every sweep through the auditor, in order."""
    from secmonkey.auditor.pipeline import Auditor
    from secmonkey.auditor.rules.rules_file import load_rules

    for account in ACCOUNTS:
        await db.accounts.replace_one({"_id": account.id}, account.to_mongo(), upsert=True)
    auditor = Auditor(db, load_rules(None))
    estate = Estate()
    for account, region, at, groups in SWEEPS:
        for message in messages(account, region, at, groups):
            estate.events.extend(await auditor.handle(message))
    return estate


def current_groups() -> dict[str, tuple[str, str, CanonicalGroup]]:
    """group_id -> (account, region, config) of every group present in its last sweep."""
    last: dict[tuple[str, str], list[tuple[CanonicalGroup, Attachments]]] = {}
    for account, region, _, groups in SWEEPS:
        last[(account, region)] = groups
    return {
        config.group_id: (account, region, config)
        for (account, region), groups in last.items()
        for config, _ in groups
    }


def expected_rules(
    query: str, mode: str, direction: str | None = None, account: str | None = None
) -> set[tuple[str, str]]:
    """(group_id, rule text) of every current rule matching: the oracle for search tests."""
    from secmonkey.common.cidr import IPRange

    wanted = IPRange.of(query)
    found = set()
    for group_id, (owner, _, config) in current_groups().items():
        if account and owner != account:
            continue
        for r in config.rules:
            if r.source_kind not in ("cidr4", "cidr6"):
                continue
            if direction and r.direction != direction:
                continue
            if IPRange.of(r.source).matches(wanted, mode):  # type: ignore[arg-type]
                found.add((group_id, r.text()))
    return found
