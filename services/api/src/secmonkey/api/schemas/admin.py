"""Accounts, subscriptions, the allowlist, API keys and sweep requests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from secmonkey.common.cidr import parse_network
from secmonkey.common.documents import (
    Account,
    AllowlistEntry,
    ApiKey,
    Role,
    Subscription,
    SubscriptionFilters,
)
from secmonkey.common.messages import AccountId, Region
from secmonkey.common.rule_usage import FlowLogPlace
from secmonkey.common.webhooks import redact_url

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._:@+-]{0,127}$"
SUBSCRIPTION_ID_PATTERN = r"^[0-9A-Za-z_-]{1,64}$"
KEY_ID_PATTERN = r"^[0-9a-f]{1,64}$"


class AccountFields(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    role_arn: str | None = Field(
        default=None,
        max_length=600,
        pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$",
    )
    external_id: str | None = Field(default=None, min_length=2, max_length=1224)
    regions: list[Region] | None = Field(default=None, description="null: every enabled region")
    labels: list[str] = Field(default_factory=list, max_length=50)
    trusted: bool = Field(default=False, description="a friendly account: references are fine")
    enabled: bool = True
    interval_minutes: int | None = Field(default=None, ge=1, le=10080)
    flow_logs: list[FlowLogPlace] = Field(
        default_factory=list, max_length=20, description="where the VPC flow logs are"
    )


class AccountIn(AccountFields):
    id: AccountId


class FlowLogPlaceView(BaseModel):
    """Where an account's flow logs are, as answered: the log account's external ID is
    write-only too."""

    kind: Literal["s3", "cloudwatch"]
    bucket: str | None = None
    prefix: str = ""
    log_group: str | None = None
    region: str | None = None
    role_arn: str | None = None
    external_id_set: bool = Field(description="whether an external ID is set (never shown)")
    format: str | None = None

    @classmethod
    def of(cls, place: FlowLogPlace) -> FlowLogPlaceView:
        fields = place.model_dump(exclude={"external_id"})
        return cls(**fields, external_id_set=bool(place.external_id))


class AccountView(BaseModel):
    """An account as answered: its external ID is write-only (the secret of the role's trust
    policy), so answers only say whether one is set."""

    id: AccountId
    name: str
    role_arn: str | None = None
    external_id_set: bool = Field(description="whether an external ID is set (never shown)")
    regions: list[Region] | None = None
    labels: list[str] = Field(default_factory=list)
    trusted: bool = False
    enabled: bool = True
    interval_minutes: int | None = None
    flow_logs: list[FlowLogPlaceView] = Field(default_factory=list)

    @classmethod
    def of(cls, account: Account) -> AccountView:
        fields = account.model_dump(by_alias=False, exclude={"external_id", "flow_logs"})
        places = [FlowLogPlaceView.of(p) for p in account.flow_logs]
        return cls(**fields, external_id_set=bool(account.external_id), flow_logs=places)


class AllowlistIn(BaseModel):
    cidr: str = Field(max_length=64, description="IPv4 or IPv6 network, e.g. 203.0.113.0/24")
    description: str = Field(default="", max_length=500)
    force: bool = Field(
        default=False,
        description="accept a network wider than /8 (IPv4) or /32 (IPv6); raises a high "
        "admin.allowlist.forced event",
    )

    @field_validator("cidr")
    @classmethod
    def _valid_cidr(cls, value: str) -> str:
        return str(parse_network(value, strict=True))


class AllowlistNew(AllowlistIn):
    name: str = Field(pattern=NAME_PATTERN, description="the network's name, e.g. office")


class AllowlistView(BaseModel):
    name: str
    cidr: str
    description: str = ""

    @classmethod
    def of(cls, entry: AllowlistEntry) -> AllowlistView:
        return cls(**entry.model_dump(by_alias=False))


class ChannelIn(BaseModel):
    type: Literal["email", "generic", "slack", "teams"]
    to: list[str] = Field(default_factory=list, max_length=50, description="email recipients")
    url: str | None = Field(default=None, max_length=2048, description="webhook URL")
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=512,
        description="HMAC secret of a generic webhook; write-only",
    )


class ChannelView(BaseModel):
    type: str
    to: list[str]
    url: str | None = None
    has_secret: bool


class SubscriptionIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    enabled: bool = True
    filters: SubscriptionFilters = Field(default_factory=SubscriptionFilters)
    channel: ChannelIn
    mode: Literal["immediate", "digest"] = "immediate"
    digest_minutes: int = Field(default=5, ge=1, le=1440)


class SubscriptionView(BaseModel):
    id: str
    name: str
    enabled: bool
    filters: SubscriptionFilters
    channel: ChannelView
    mode: str
    digest_minutes: int

    @classmethod
    def of(cls, sub: Subscription) -> SubscriptionView:
        channel = ChannelView(
            type=sub.channel.type,
            to=sub.channel.to,
            # A Slack or Teams URL is itself the credential: only its host is shown.
            url=redact_url(sub.channel.url) if sub.channel.url else None,
            has_secret=bool(sub.channel.secret),
        )
        return cls(
            id=sub.id,
            name=sub.name,
            enabled=sub.enabled,
            filters=sub.filters,
            channel=channel,
            mode=sub.mode,
            digest_minutes=sub.digest_minutes,
        )


class SubscriptionTestQueued(BaseModel):
    subscription_id: str
    event_id: str
    detail: str


class KeyIn(BaseModel):
    name: str = Field(pattern=NAME_PATTERN)
    role: Role
    expires_at: datetime | None = Field(
        default=None, description="when the key stops working (future, with a time zone)"
    )

    @field_validator("expires_at")
    @classmethod
    def _future(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("expires_at needs a time zone (e.g. 2030-01-01T00:00:00Z)")
        if value <= datetime.now(UTC):
            raise ValueError("expires_at must be in the future")
        return value


class KeyUpdate(BaseModel):
    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    role: Role | None = None
    enabled: bool | None = None


class KeyView(BaseModel):
    id: str
    name: str
    role: Role
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None
    enabled: bool
    expires_at: datetime | None = None

    @classmethod
    def of(cls, key: ApiKey) -> KeyView:
        return cls(**key.model_dump(by_alias=False, exclude={"hash"}))


class KeyCreated(KeyView):
    key: str = Field(description="the key itself: shown once, store it now")


class SweepIn(BaseModel):
    account_id: AccountId | None = Field(
        default=None, description="the account to sweep; null: every monitored account"
    )
    regions: list[Region] | None = Field(
        default=None, description="null: the account's configured regions"
    )


class SweepQueued(BaseModel):
    sweep_id: str
    account_id: str
    regions: list[str] | None = None


class SweepsQueued(BaseModel):
    sweeps: list[SweepQueued]
    pending: bool = Field(
        default=False,
        description="true when RabbitMQ has not taken the requests yet: they wait in the "
        "API's outbox and are sent as soon as it is reachable",
    )
