"""Two small, realistic estates, written by the services' own code, for the API's tests.

Groups reach the database as in production: collector messages (SnapshotBatch,
SweepCompleted) handled by the auditor's pipeline, never hand-made documents. Accounts
are added through the API's query layer and sweep health through the collector's own
status records. Every instant is fixed, so answers and screenshots come out the same
each run. Both estates have the same two accounts and regions and the same group IDs:

- `HISTORY`, for the REST API's and the client's tests: in PROD/us-east-1 a `web` group
  whose history is create → change → change → delete (absent from a complete sweep), a
  database group with IPv4, IPv6 and group-reference rules, and a legacy group open to the
  whole internet; in DEV/eu-west-1 a bastion with narrow IPv4/IPv6 sources.
- `CONSOLE`, for the browser tests: `payments-web` changed once (an office SSH rule
  added), hostile markup in a probe group's description, tags and rule, and a DEV sweep
  that failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from secmonkey.api.auth import create_key
from secmonkey.api.queries.accounts import create_account
from secmonkey.api.schemas.admin import AccountIn
from secmonkey.common.canonical import Attachments, CanonicalGroup, GroupSnapshot, Rule
from secmonkey.common.cidr import IPRange
from secmonkey.common.messages import SnapshotBatch, SweepCompleted
from secmonkey.common.storage import Database

PROD, DEV = "111111111111", "222222222222"
EAST, WEST = "us-east-1", "eu-west-1"
ACCOUNTS = [
    AccountIn(id=PROD, name="prod", labels=["pci"], regions=[EAST]),
    AccountIn(id=DEV, name="dev", regions=[WEST]),
]

WEB = "sg-0c0ffee000000001"
DB = "sg-0c0ffee000000002"
LEGACY = "sg-0c0ffee000000003"
PROBE = "sg-0c0ffee000000004"
BASTION = "sg-0d0000000000000b"
UNKNOWN = "sg-0fffffffffffffff9"

PUBLIC = Attachments(interface_count=2, interface_types=["interface"], public_ip=True)
PRIVATE = Attachments(interface_count=1, interface_types=["interface"], public_ip=False)
UNATTACHED = Attachments()


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


@dataclass(frozen=True)
class Sweep:
    """One complete sweep of one account-region: the groups the collector saw, at `at`."""

    account: str
    region: str
    at: datetime
    groups: list[tuple[CanonicalGroup, Attachments]]

    @property
    def sweep_id(self) -> str:
        return f"sweep-{self.account}-{self.region}-{self.at:%Y%m%d%H%M}"

    def messages(self) -> list[SnapshotBatch | SweepCompleted]:
        """What the collector publishes for this sweep."""
        snapshots = [GroupSnapshot.of(config, attached) for config, attached in self.groups]
        return [
            SnapshotBatch(
                sweep_id=self.sweep_id,
                account_id=self.account,
                region=self.region,
                observed_at=self.at,
                groups=snapshots,
            ),
            SweepCompleted(
                sweep_id=self.sweep_id,
                account_id=self.account,
                region=self.region,
                observed_at=self.at,
                started_at=self.at - timedelta(seconds=20),
                group_ids=[config.group_id for config, _ in self.groups],
                complete=True,
            ),
        ]


@dataclass(frozen=True)
class SweepStatus:
    """How a sweep ended, as the collector records it (what the dashboard's health shows)."""

    sweep: Sweep
    groups: int
    error: str | None = None


@dataclass(frozen=True)
class Estate:
    sweeps: list[Sweep]
    statuses: list[SweepStatus] = field(default_factory=list)

    async def build(self, db: Database) -> None:
        """Accounts through the API, every sweep through the auditor, in order, then the
        collector's status records."""
        from secmonkey.auditor.catalog import catalog
        from secmonkey.auditor.pipeline import Auditor
        from secmonkey.auditor.rules.rules_file import load_rules
        from secmonkey.collector import sweep_status as status
        from secmonkey.common import rule_catalog

        for account in ACCOUNTS:
            await create_account(db, account)
        auditor = Auditor(db, load_rules(None))
        await rule_catalog.publish(db, catalog(load_rules(None)))  # as the auditor at start
        for sweep in self.sweeps:
            for message in sweep.messages():
                await auditor.handle(message)
        for done in self.statuses:
            sweep = done.sweep
            args = (db, sweep.sweep_id, sweep.account, sweep.region)
            await status.region_started(*args, "collector-0", sweep.at)
            await status.region_finished(
                *args,
                complete=done.error is None,
                groups=done.groups,
                batches=1 if done.groups else 0,
                started_at=sweep.at,
                error=done.error,
                error_code="AccessDenied" if done.error else None,
                collector="collector-0",
            )

    def current_groups(self) -> dict[str, tuple[str, str, CanonicalGroup]]:
        """group_id -> (account, region, config) of every group present in its last sweep."""
        last = {(s.account, s.region): s.groups for s in self.sweeps}
        return {
            config.group_id: (account, region, config)
            for (account, region), groups in last.items()
            for config, _ in groups
        }

    def expected_rules(
        self, query: str, mode: str, direction: str | None = None, account: str | None = None
    ) -> set[tuple[str, str]]:
        """(group_id, rule text) of every current rule matching: the oracle for search tests."""
        wanted = IPRange.of(query)
        found = set()
        for group_id, (owner, _, config) in self.current_groups().items():
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


async def keys(db: Database) -> dict[str, str]:
    """One API key per role, minted by the API's own function."""
    made = {}
    for role in ("viewer", "auditor", "admin"):
        _, key = await create_key(db, f"{role} tester", role)
        made[role] = key
    return made


# HISTORY: a group's whole life, one day apart.
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TIMES = [T0 + timedelta(days=n) for n in range(4)]

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
_PROD_REST = [(DATABASE, PRIVATE), (LEGACY_OPEN, UNATTACHED)]

HISTORY = Estate(
    sweeps=[
        Sweep(PROD, EAST, TIMES[0], [(WEB_V1, PUBLIC), *_PROD_REST]),
        Sweep(DEV, WEST, TIMES[0], [(BASTION_V1, PUBLIC)]),
        Sweep(PROD, EAST, TIMES[1], [(WEB_V2, PUBLIC), *_PROD_REST]),
        Sweep(PROD, EAST, TIMES[2], [(WEB_V3, PUBLIC), *_PROD_REST]),
        Sweep(PROD, EAST, TIMES[3], _PROD_REST),
    ]
)

# CONSOLE: two sweeps six hours apart, user-controlled text that must stay inert.
HOSTILE_DESCRIPTION = (
    '<script>window.__xss = "description"</script><img src=x onerror="window.__xss = 1">'
)
HOSTILE_TAG_KEY = "<b id=tagkey>Owner</b>"
HOSTILE_TAG_VALUE = '<script>window.__xss = "tag"</script>'
HOSTILE_RULE_DESCRIPTION = '<img src=x onerror="window.__xss = 2">'

OFFICE_SSH = "ingress tcp/22 from 198.51.100.0/24"
WORLD_SSH = "ingress tcp/22 from 0.0.0.0/0"
BASTION_IP = "203.0.113.7"

MORNING = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
AFTERNOON = MORNING + timedelta(hours=6)

HTTPS_SITE = rule("ingress", "tcp", (443, 443), "0.0.0.0/0", description="public site")
PAYMENTS_V1 = group(WEB, "payments-web", [HTTPS_SITE, EGRESS_ALL], tags={"team": "payments"})
PAYMENTS_V2 = group(
    WEB,
    "payments-web",
    [
        HTTPS_SITE,
        rule("ingress", "tcp", (22, 22), "198.51.100.0/24", description="office vpn"),
        EGRESS_ALL,
    ],
    tags={"team": "payments"},
)
ORDERS_DB = group(
    DB,
    "orders-db",
    [
        rule("ingress", "tcp", (5432, 5432), "10.0.0.0/16", description="app subnets"),
        rule("ingress", "tcp", (5432, 5432), WEB, "group", account=PROD, description="web tier"),
        EGRESS_ALL,
    ],
)
LEGACY_ADMIN = group(
    LEGACY,
    "legacy-admin",
    [rule("ingress", "tcp", (22, 22), "0.0.0.0/0", description="temporary"), EGRESS_ALL],
)
XSS_PROBE = group(
    PROBE,
    "xss-probe",
    [rule("ingress", "tcp", (8443, 8443), "10.9.0.0/16", description=HOSTILE_RULE_DESCRIPTION)],
    tags={HOSTILE_TAG_KEY: HOSTILE_TAG_VALUE},
    description=HOSTILE_DESCRIPTION,
)
DEV_BASTION = group(
    BASTION,
    "dev-bastion",
    [
        rule("ingress", "tcp", (22, 22), f"{BASTION_IP}/32", description="admin home"),
        rule("egress", "tcp", (443, 443), "::/0", "cidr6"),
    ],
    owner=DEV,
    vpc="vpc-0bbb2222",
)
_PROD_OTHERS = [(ORDERS_DB, PRIVATE), (LEGACY_ADMIN, PUBLIC), (XSS_PROBE, PRIVATE)]
_CONSOLE_SWEEPS = [
    Sweep(PROD, EAST, MORNING, [(PAYMENTS_V1, PUBLIC), *_PROD_OTHERS]),
    Sweep(DEV, WEST, MORNING, [(DEV_BASTION, PUBLIC)]),
    Sweep(PROD, EAST, AFTERNOON, [(PAYMENTS_V2, PUBLIC), *_PROD_OTHERS]),
]

CONSOLE = Estate(
    sweeps=_CONSOLE_SWEEPS,
    # PROD reads fine; DEV's afternoon sweep was refused.
    statuses=[
        SweepStatus(_CONSOLE_SWEEPS[0], groups=4),
        SweepStatus(_CONSOLE_SWEEPS[1], groups=1),
        SweepStatus(_CONSOLE_SWEEPS[2], groups=4),
        SweepStatus(
            Sweep(DEV, WEST, AFTERNOON, []),
            groups=0,
            error="AccessDenied: not authorized to perform ec2:DescribeSecurityGroups",
        ),
    ],
)
