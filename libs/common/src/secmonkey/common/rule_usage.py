"""Rule usage from VPC flow logs: where an account's flow logs are, what the collector
learnt from them per rule, and the named reads of it for the auditor and the API.

The collector owns `rule_usage` (one document per group, rule and day) and
`rule_usage_summary` (one per group); nothing else writes them.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from secmonkey.common import storage
from secmonkey.common.storage import Database

# The default format (version 2), in the order AWS writes it.
V2_FIELDS = [
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
]
# Every field of versions 2-5 (a custom format may name any of them, in any order).
KNOWN_FIELDS = frozenset(
    V2_FIELDS
    + [
        "vpc-id",
        "subnet-id",
        "instance-id",
        "tcp-flags",
        "type",
        "pkt-srcaddr",
        "pkt-dstaddr",
        "region",
        "az-id",
        "sublocation-type",
        "sublocation-id",
        "pkt-src-aws-service",
        "pkt-dst-aws-service",
        "flow-direction",
        "traffic-path",
        "ecs-cluster-arn",
        "ecs-cluster-name",
        "ecs-container-instance-arn",
        "ecs-container-instance-id",
        "ecs-container-id",
        "ecs-second-container-id",
        "ecs-service-name",
        "ecs-task-definition-arn",
        "ecs-task-arn",
        "ecs-task-id",
        "reject-reason",
    ]
)
REQUIRED_FIELDS = frozenset(
    ("interface-id", "srcaddr", "dstaddr", "srcport", "dstport", "protocol", "action", "start")
)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/-]{0,512}$")
_LOG_GROUP = re.compile(r"^[A-Za-z0-9_./#-]{1,512}$")
_ROLE = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$"


def format_fields(text: str) -> list[str]:
    """`${version} ${srcaddr} …` (or the bare names) as a list of field names; refuses
    unknown names and formats without what attribution needs."""
    names = [part.removeprefix("${").removesuffix("}") for part in text.split()]
    unknown = [n for n in names if n not in KNOWN_FIELDS]
    if unknown:
        raise ValueError(f"unknown flow-log fields {unknown}")
    missing = sorted(REQUIRED_FIELDS - set(names))
    if missing:
        raise ValueError(f"a flow-log format needs the fields {missing}")
    return names


class FlowLogPlace(BaseModel):
    """Where one account's VPC flow logs are: an S3 bucket (the AWS key layout
    `<prefix>/AWSLogs/<account>/vpcflowlogs/<region>/YYYY/MM/DD/…log.gz`, often in a
    central log-archive account reached with its own role) or a CloudWatch Logs group."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["s3", "cloudwatch"]
    bucket: str | None = Field(default=None, max_length=63, description="s3: the bucket")
    prefix: str = Field(default="", max_length=512, description="s3: key prefix before AWSLogs/")
    log_group: str | None = Field(default=None, max_length=512, description="cloudwatch")
    region: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2}(-[a-z]+)+-\d$",
        description="where the bucket or log group is (default: each region read)",
    )
    role_arn: str | None = Field(
        default=None, max_length=600, pattern=_ROLE, description="role of the log account"
    )
    external_id: str | None = Field(default=None, min_length=2, max_length=1224)
    format: str | None = Field(
        default=None,
        max_length=2000,
        description="custom format (`${version} ${srcaddr} …`); default v2. S3 objects "
        "carry their own header line, which wins",
    )

    @model_validator(mode="after")
    def _complete(self) -> FlowLogPlace:
        if self.kind == "s3":
            if not self.bucket or not _BUCKET.match(self.bucket):
                raise ValueError("an s3 flow-log place needs a valid bucket name")
            if not _PREFIX.match(self.prefix):
                raise ValueError("invalid s3 prefix")
        elif not self.log_group or not _LOG_GROUP.match(self.log_group):
            raise ValueError("a cloudwatch flow-log place needs a valid log_group")
        if self.format is not None:
            format_fields(self.format)
        return self

    def place_id(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}" if self.kind == "s3" else self.log_group
        return f"{self.kind}:{where}"

    def fields(self) -> list[str]:
        return format_fields(self.format) if self.format else list(V2_FIELDS)


class Count(BaseModel):
    """A source address or network and its flows."""

    source: str
    hits: int


class RuleUsage(BaseModel):
    """What the flow logs say of one ingress rule, as the auditor's rules see it.

    `covered_since`: since when every interface of the group has had flow logs (None:
    some interface has none, so the rule's use is unknown). `distinct_sources` is exact
    unless `approximate` (beyond the per-rule-and-day bound a HyperLogLog estimate)."""

    rule: str = Field(description="the rule's text, e.g. `ingress tcp/22 from 0.0.0.0/0`")
    as_of: datetime
    covered_since: datetime | None = None
    last_used: datetime | None = None
    window_days: int = 30
    hits: int = Field(default=0, description="accepted inbound flows in the window")
    ambiguous: int = Field(
        default=0, description="flows to ephemeral ports that may be replies (v2 fields only)"
    )
    distinct_sources: int = 0
    approximate: bool = False
    networks: list[Count] = Field(
        default_factory=list, description="source networks (/24, /48) with hits, most first"
    )
    network_count: int = 0


def usage_digest(usage: list[RuleUsage]) -> str:
    """Changes when a fact the rules judge changes (the instant only by the day)."""
    if not usage:
        return ""
    text = "|".join(
        u.model_copy(
            update={"as_of": u.as_of.replace(hour=0, minute=0, second=0, microsecond=0)}
        ).model_dump_json()
        for u in sorted(usage, key=lambda u: u.rule)
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class DailyHits(BaseModel):
    day: str = Field(description="YYYY-MM-DD (UTC)")
    hits: int


class RuleUsageDetail(RuleUsage):
    """A rule's usage for the group page: the facts, its verdict, its days and top sources."""

    status: Literal["used", "unused", "unknown"]
    days: list[DailyHits] = Field(default_factory=list, description="up to 90 days")
    top_sources: list[Count] = Field(default_factory=list)


# The field of `rule_usage_summary` that holds its rules, packed (`storage.pack`).
PACKED_RULES = "rules_packed"


class UsageSummary(BaseModel):
    """`rule_usage_summary`: one group's rules as of the collector's last flow-log read."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    key: str = Field(alias="_id")
    account_id: str
    region: str
    as_of: datetime
    interfaces: int = 0
    uncovered: list[str] = Field(default_factory=list, description="interfaces without logs")
    covered_since: datetime | None = None
    rules: list[RuleUsageDetail] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _unpacked(cls, data: Any) -> Any:
        # The collector stores the rules as one packed value (`storage.packed`).
        if isinstance(data, dict) and data.get(PACKED_RULES) is not None:
            return {**data, "rules": storage.unpack(data[PACKED_RULES])}
        return data

    def facts(self) -> list[RuleUsage]:
        fields = set(RuleUsage.model_fields)
        return [RuleUsage(**d.model_dump(include=fields)) for d in self.rules]


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(days: list[DailyHits], as_of: datetime, span: int = 90) -> str:
    """Hits per day over the last `span` days as one line of block characters (a space
    for a day without hits), oldest first: the CLI and the console show the same."""
    by_day = {d.day: d.hits for d in days}
    top = max(by_day.values(), default=0)
    out = []
    for back in range(span - 1, -1, -1):
        hits = by_day.get((as_of - timedelta(days=back)).strftime("%Y-%m-%d"), 0)
        out.append(" " if not hits else _BARS[min(7, (hits * 8 - 1) // top)])
    return "".join(out)


async def read_summary(db: Database, key: str) -> UsageSummary | None:
    """The usage of the group `key` (None before any flow log was read for it)."""
    doc = await storage.with_retry(
        lambda: db.rule_usage_summary.find_one({"_id": key}), what="reading rule usage"
    )
    return None if doc is None else UsageSummary.model_validate(doc)


async def read_region_summaries(db: Database, account_id: str, region: str) -> dict[str, Any]:
    """`{group key: UsageSummary}` of one account-region (one indexed find)."""
    docs = await storage.with_retry(
        lambda: db.rule_usage_summary.find({"account_id": account_id, "region": region}).to_list(
            None
        ),
        what="reading rule usage",
    )
    return {d["_id"]: UsageSummary.model_validate(d) for d in docs}
