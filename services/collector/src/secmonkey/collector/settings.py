"""The collector's settings, read from `SECMONKEY_*` environment variables."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from secmonkey.common import webhooks
from secmonkey.common.amqp import AUDITOR_QUEUE, NOTIFIER_QUEUE, with_partition_queues
from secmonkey.common.amqp.topology import SECURITYHUB_QUEUE
from secmonkey.common.errors import InvalidInput
from secmonkey.common.messages import SWEEPS_QUEUE, Region
from secmonkey.common.settings import CommonSettings


def _default_replica_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Settings(CommonSettings):
    """What the collector needs beyond the shared connection settings."""

    needs_encryption_keys: ClassVar[bool] = True  # opens/seals stored credentials

    replica_id: str = Field(
        default_factory=_default_replica_id,
        description="this process's name in leases and sweep status (default: host-pid)",
    )

    # AWS access
    aws_endpoint_url: str | None = Field(
        default=None, description="send every AWS call here (a moto server in tests and demos)"
    )
    aws_region: str = Field(default="us-east-1", description="region of the hub's STS calls")
    aws_max_attempts: int = Field(default=8, ge=1, le=20, description="botocore standard retries")
    aws_pace_rate: float = Field(
        default=10.0,
        ge=0,
        description="ceiling of calls/s per account-region-service, adapted down on throttling "
        "(default: half of EC2's describe refill rate, 20/s; 0: no pacing)",
    )
    aws_pace_burst: float = Field(
        default=50.0, ge=1, description="calls at once before the rate applies (EC2's: 100)"
    )
    aws_connect_timeout: float = Field(default=10.0, gt=0)
    aws_read_timeout: float = Field(default=60.0, gt=0)
    role_session_name: str = "secmonkey-collector"
    assume_role_seconds: int = Field(default=3600, ge=900, le=43200)
    credentials_refresh_margin_seconds: int = Field(
        default=600, ge=0, description="assume the role again this long before expiry"
    )

    # Sweeps
    accounts_file: Path | None = Field(
        default=None, description="YAML list of accounts upserted into `accounts` at start"
    )
    sweep_concurrency: int = Field(
        default=32, ge=1, le=512, description="account-regions read at once by this replica"
    )
    batch_size: int = Field(default=200, ge=1, le=200, description="groups per SnapshotBatch")
    sweeps_queue: str = Field(default=SWEEPS_QUEUE, description="work queue of SweepRequests")
    topology_enabled: bool = Field(
        default=True,
        description="also read routes, gateways, ACLs, load balancers and group users "
        "(exposure); off: the auditor keeps the attached/public-IP severity step",
    )
    routing_prefix: str = Field(
        default="aws",
        pattern=r"^[\w-]+$",
        description="snapshots go out as <prefix>.<account>.<region> (tests use their own)",
    )

    # Scheduling
    sweep_interval_seconds: float = Field(
        default=900.0, gt=0, description="how often each account is swept (per-account override)"
    )
    scheduler_enabled: bool = Field(default=True, description="compete for the scheduler lease")
    scheduler_lease_seconds: float = Field(default=30.0, gt=0)
    scheduler_tick_seconds: float = Field(
        default=5.0, gt=0, description="how often the lease holder looks for due accounts"
    )
    outbox_republish_seconds: float = Field(
        default=10.0,
        gt=0,
        description="period of republishing scheduled sweep requests RabbitMQ did not take "
        "(they wait in `collector_outbox`)",
    )
    sweep_retention_days: float = Field(
        default=7.0, gt=0, description="sweep status older than this is deleted by the scheduler"
    )

    # The watchdog (secmonkey.collector.watchdog), run by the scheduler lease holder
    watchdog_seconds: float = Field(
        default=60.0, ge=0, description="how often secmonkey's own health is checked (0: never)"
    )
    watchdog_overdue_intervals: float = Field(
        default=3.0, gt=0, description="an account is overdue after this many of its intervals"
    )
    watchdog_grace_seconds: float = Field(
        default=300.0,
        ge=0,
        description="a consumer not ready this long is raised; a growing queue settles after it",
    )
    watchdog_queues: list[str] | None = Field(
        default=None,
        description="consumer queues whose consumers and `.dead` queues are watched "
        "(default: the sweeps queue, auditor.snapshots, notifier.events)",
    )
    watchdog_undelivered_queues: list[str] = Field(
        default_factory=lambda: ["notifier.events.undelivered"],
        description="queues of alerts that finally failed, watched for growth",
    )

    # Rule usage from VPC flow logs (secmonkey.collector.flowlogs), read by the lease holder
    flowlog_seconds: float = Field(
        default=600.0, ge=0, description="how often accounts' flow-log places are read (0: never)"
    )
    flowlog_backfill_days: int = Field(
        default=1, ge=0, le=90, description="how far back a place is read the first time"
    )

    # The heartbeat: a dead-man's switch called after each complete sweep of an account
    heartbeat_url: str | None = Field(
        default=None, description="called after each complete account sweep (a check-in URL)"
    )
    heartbeat_method: Literal["GET", "POST"] = "GET"
    heartbeat_timeout: float = Field(default=5.0, gt=0, le=60, description="seconds per call")
    heartbeat_min_seconds: float = Field(
        default=60.0, ge=0, description="at most one call per this many seconds per replica"
    )
    webhook_allow_http: bool = Field(default=False, description="allow a plain-http heartbeat")
    webhook_allow_private: bool = Field(
        default=False, description="allow a loopback or private heartbeat target"
    )

    # Real-time events (secmonkey.collector.cloudtrail): on when events_queue_url is set
    events_queue_url: str | None = Field(
        default=None, description="SQS queue of CloudTrail security-group calls (EventBridge)"
    )
    events_queue_region: str | None = Field(
        default=None, description="the queue's region (default: from its URL, else aws_region)"
    )
    events_wait_seconds: int = Field(default=20, ge=0, le=20, description="SQS long poll")
    events_max_messages: int = Field(default=10, ge=1, le=10, description="messages per receive")
    events_visibility_timeout: int = Field(
        default=120, ge=10, le=43200, description="seconds a received event stays hidden"
    )
    events_window_seconds: float = Field(
        default=2.0, ge=0, description="events on one group within this window: one describe"
    )
    events_leading_per_second: float = Field(
        default=5.0,
        ge=0,
        description="calls on quiet groups described at once, per account-region and second "
        "(0: every call waits for its window); past it, calls coalesce into windows",
    )
    events_leading_burst: float = Field(
        default=20.0, ge=1, description="leading describes an account-region may make at once"
    )
    events_concurrency: int = Field(default=8, ge=1, le=128, description="describes at once")
    events_sweep_interval_seconds: float = Field(
        default=21600.0, gt=0, description="sweep interval while events are on (unless set)"
    )
    events_missed_check_seconds: float = Field(
        default=300.0, gt=0, description="how often sweep-found changes are checked for events"
    )

    # Security Hub (secmonkey.collector.securityhub): accounts opt in with `security_hub`
    securityhub_export: bool = Field(
        default=True,
        description="consume issue events; import opted-in accounts' findings into Security Hub",
    )
    securityhub_queue: str = Field(default=SECURITYHUB_QUEUE.name, description="its queue")
    securityhub_linger_seconds: float = Field(
        default=1.0, ge=0, le=60, description="how long a batch waits to fill (100 per call)"
    )
    securityhub_session_name: str = Field(
        default="secmonkey-securityhub", description="AssumeRole session name of the writer"
    )
    # Accounts from AWS Organizations (secmonkey.collector.organizations)
    organization_discovery_seconds: float = Field(
        default=0.0, ge=0, description="how often the organization's accounts are enrolled (0: off)"
    )
    organization_role_arn: str | None = Field(
        default=None,
        description="role in the management (or delegated administrator) account that lists "
        "the organization (default: the collector's own credentials)",
    )
    organization_role_external_id: str | None = Field(
        default=None, description="ExternalId of that role's trust policy"
    )
    organization_member_role: str = Field(
        default="arn:aws:iam::{account_id}:role/secmonkey-monitor",
        description="role ARN of each enrolled account; {account_id} is replaced",
    )
    organization_external_id: str | None = Field(
        default=None,
        description="the ExternalId of every member role: one secret of the organization",
    )
    organization_regions: list[Region] | None = Field(
        default=None, description="regions of enrolled accounts (default: every enabled one)"
    )
    organization_labels_tag: str = Field(
        default="secmonkey:labels", description="account tag whose value lists labels"
    )
    organization_label_tag_keys: list[str] = Field(
        default_factory=list, description="account tags copied as `<key>:<value>` labels"
    )

    @model_validator(mode="after")
    def _sweep_less_often_with_events(self) -> Settings:
        if self.events_queue_url and "sweep_interval_seconds" not in self.model_fields_set:
            self.sweep_interval_seconds = self.events_sweep_interval_seconds
        return self

    @model_validator(mode="after")
    def _heartbeat_url_is_safe(self) -> Settings:
        if self.heartbeat_url:
            try:
                parts = webhooks.parse_webhook_url(
                    self.heartbeat_url, allow_http=self.webhook_allow_http
                )
                webhooks.check_host(parts.hostname or "", allow_private=self.webhook_allow_private)
            except InvalidInput as exc:
                raise ValueError(f"SECMONKEY_HEARTBEAT_URL: {exc}") from None
        return self

    @field_validator("organization_role_arn")
    @classmethod
    def _organization_role(cls, value: str | None) -> str | None:
        if value is not None and not re.match(
            r"^arn:aws(-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$", value
        ):
            raise ValueError(f"organization_role_arn {value!r} is not an IAM role ARN")
        return value

    @field_validator("organization_member_role")
    @classmethod
    def _member_role_pattern(cls, value: str) -> str:
        sample = "123456789012"
        if "{account_id}" not in value:
            raise ValueError("organization_member_role needs {account_id}")
        try:
            arn = value.format(account_id=sample)
        except (KeyError, IndexError, ValueError):
            raise ValueError("organization_member_role may name only {account_id}") from None
        match = re.match(r"^arn:aws(-[a-z]+)*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$", arn)
        if match is None or match.group(2) != sample:
            raise ValueError(f"organization_member_role {value!r} is not an IAM role ARN pattern")
        return value

    @property
    def watched_queues(self) -> list[str]:
        """The consumer queues the watchdog watches (and, through them, their `.dead`)."""
        if self.watchdog_queues is not None:
            return list(self.watchdog_queues)
        default = [self.sweeps_queue, AUDITOR_QUEUE.name, NOTIFIER_QUEUE.name]
        return with_partition_queues(default, self.partitions)

    @field_validator("role_session_name")
    @classmethod
    def _session_name(cls, value: str) -> str:
        # STS allows [\w+=,.@-]{2,64}; anything else is replaced rather than refused.
        cleaned = re.sub(r"[^\w+=,.@-]", "-", value)[:64]
        if len(cleaned) < 2:
            raise ValueError("role_session_name needs at least two characters")
        return cleaned

    @property
    def renew_every(self) -> float:
        """The lease is renewed three times per period, so one slow round does not lose it."""
        return self.scheduler_lease_seconds / 3
