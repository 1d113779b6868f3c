"""What the console's browser tests look at, written by the services' own code.

Groups reach MongoDB the way they do in production: collector messages (SnapshotBatch,
SweepCompleted) handled by the auditor's pipeline. Sweep health comes from the
collector's own status records. Accounts and API keys are written by the API's
functions. Every instant is fixed, so that screenshots come out the same each run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from secmonkey.api.auth import Principal, create_key
from secmonkey.api.routes.accounts import create_account
from secmonkey.api.schemas.admin import AccountIn
from secmonkey.common.canonical import Attachments, CanonicalGroup, GroupSnapshot, Rule
from secmonkey.common.messages import SnapshotBatch, SweepCompleted
from secmonkey.common.storage import Database

PROD, DEV = "111111111111", "222222222222"
EAST, WEST = "us-east-1", "eu-west-1"
T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=6)

WEB = "sg-0c0ffee000000001"
DB = "sg-0c0ffee000000002"
LEGACY = "sg-0c0ffee000000003"
PROBE = "sg-0c0ffee000000004"
BASTION = "sg-0d0000000000000b"

HOSTILE_DESCRIPTION = (
    '<script>window.__xss = "description"</script><img src=x onerror="window.__xss = 1">'
)
HOSTILE_TAG_KEY = "<b id=tagkey>Owner</b>"
HOSTILE_TAG_VALUE = '<script>window.__xss = "tag"</script>'
HOSTILE_RULE_DESCRIPTION = '<img src=x onerror="window.__xss = 2">'

OFFICE_SSH = "ingress tcp/22 from 198.51.100.0/24"
WORLD_SSH = "ingress tcp/22 from 0.0.0.0/0"
BASTION_IP = "203.0.113.7"


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


HTTPS = rule("ingress", "tcp", (443, 443), "0.0.0.0/0", description="public site")
EGRESS = rule("egress", "-1", None, "0.0.0.0/0")
WEB_V1 = group(WEB, "payments-web", [HTTPS, EGRESS], tags={"team": "payments"})
WEB_V2 = group(
    WEB,
    "payments-web",
    [HTTPS, rule("ingress", "tcp", (22, 22), "198.51.100.0/24", description="office vpn"), EGRESS],
    tags={"team": "payments"},
)
ORDERS_DB = group(
    DB,
    "orders-db",
    [
        rule("ingress", "tcp", (5432, 5432), "10.0.0.0/16", description="app subnets"),
        rule("ingress", "tcp", (5432, 5432), WEB, "group", account=PROD, description="web tier"),
        EGRESS,
    ],
)
LEGACY_ADMIN = group(
    LEGACY,
    "legacy-admin",
    [rule("ingress", "tcp", (22, 22), "0.0.0.0/0", description="temporary"), EGRESS],
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

PUBLIC = Attachments(interface_count=2, interface_types=["interface"], public_ip=True)
PRIVATE = Attachments(interface_count=1, interface_types=["interface"])

SWEEPS: list[tuple[str, str, datetime, list[tuple[CanonicalGroup, Attachments]]]] = [
    (
        PROD,
        EAST,
        T0,
        [(WEB_V1, PUBLIC), (ORDERS_DB, PRIVATE), (LEGACY_ADMIN, PUBLIC), (XSS_PROBE, PRIVATE)],
    ),
    (DEV, WEST, T0, [(DEV_BASTION, PUBLIC)]),
    (
        PROD,
        EAST,
        T1,
        [(WEB_V2, PUBLIC), (ORDERS_DB, PRIVATE), (LEGACY_ADMIN, PUBLIC), (XSS_PROBE, PRIVATE)],
    ),
]
ADMIN = Principal(key_id="tests", name="tests", role="admin")


def messages(
    account: str, region: str, at: datetime, groups: list[tuple[CanonicalGroup, Attachments]]
) -> list[SnapshotBatch | SweepCompleted]:
    """What a collector publishes for one complete sweep of one account-region."""
    sweep_id = f"sweep-{account}-{region}-{at:%Y%m%d%H%M}"
    return [
        SnapshotBatch(
            sweep_id=sweep_id,
            account_id=account,
            region=region,
            observed_at=at,
            groups=[GroupSnapshot.of(config, attachments) for config, attachments in groups],
        ),
        SweepCompleted(
            sweep_id=sweep_id,
            account_id=account,
            region=region,
            observed_at=at,
            started_at=at - timedelta(seconds=20),
            group_ids=[config.group_id for config, _ in groups],
            complete=True,
        ),
    ]


async def _sweep_status(db: Database) -> None:
    """Sweep health as the collector records it: PROD reads fine, DEV's last sweep failed."""
    from secmonkey.collector import sweep_status as status

    outcomes = [
        (PROD, EAST, T0, True, None, 4),
        (DEV, WEST, T0, True, None, 1),
        (PROD, EAST, T1, True, None, 4),
        (
            DEV,
            WEST,
            T1,
            False,
            "AccessDenied: not authorized to perform ec2:DescribeSecurityGroups",
            0,
        ),
    ]
    for account, region, at, complete, error, groups in outcomes:
        sweep_id = f"sweep-{account}-{region}-{at:%Y%m%d%H%M}"
        await status.region_started(db, sweep_id, account, region, "collector-0", at)
        await status.region_finished(
            db,
            sweep_id,
            account,
            region,
            complete=complete,
            groups=groups,
            batches=1 if groups else 0,
            started_at=at,
            error=error,
            error_code="AccessDenied" if error else None,
            collector="collector-0",
        )


async def build(db: Database) -> None:
    """Accounts through the API, every sweep through the auditor, sweep status through the collector."""
    from secmonkey.auditor.pipeline import Auditor
    from secmonkey.auditor.rules.rules_file import load_rules

    await create_account(db, ADMIN, AccountIn(id=PROD, name="prod", labels=["pci"], regions=[EAST]))
    await create_account(db, ADMIN, AccountIn(id=DEV, name="dev", regions=[WEST]))
    auditor = Auditor(db, load_rules(None))
    for account, region, at, groups in SWEEPS:
        for message in messages(account, region, at, groups):
            await auditor.handle(message)
    await _sweep_status(db)


async def keys(db: Database) -> dict[str, str]:
    """One API key per role, minted by the API's own function."""
    made = {}
    for role in ("viewer", "auditor", "admin"):
        _, key = await create_key(db, f"{role} tester", role)
        made[role] = key
    return made
