"""Auditor settings (`SECMONKEY_*` environment variables)."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from secmonkey.common.settings import CommonSettings


class Settings(CommonSettings):
    rules_file: str | None = Field(
        default=None, description="YAML rules file (SECMONKEY_RULES_FILE); unset: the defaults"
    )
    auditor_queue: str = Field(
        default="auditor.snapshots", description="consumer queue (tests use a unique one)"
    )
    auditor_routing_keys: list[str] = Field(
        default=["aws.#"], description="bindings of the queue on secmonkey.snapshots"
    )
    auditor_publish_events: bool = Field(
        default=True, description="publish events on secmonkey.events (they are stored either way)"
    )
    auditor_host: str = Field(
        default="127.0.0.1",
        validation_alias=AliasChoices("SECMONKEY_AUDITOR_HOST", "SECMONKEY_HOST"),
    )
    auditor_port: int = Field(
        default=8001,
        ge=0,
        le=65535,
        validation_alias=AliasChoices("SECMONKEY_AUDITOR_PORT", "SECMONKEY_PORT"),
    )
    auditor_context_ttl: float = Field(
        default=5.0, ge=0, description="seconds accounts and allowlist are cached"
    )
    auditor_read_concurrency: int = Field(default=8, ge=1, le=64)
    auditor_message_concurrency: int = Field(
        default=2,
        ge=1,
        le=32,
        description="messages, or passes of several, applied at once; each "
        "account-region's messages one at a time",
    )
    auditor_pass_size: int = Field(
        default=32,
        ge=1,
        le=64,
        description="messages of distinct account-regions applied together in one pass "
        "when they wait (one database command per step for all)",
    )
    auditor_maintenance_seconds: float = Field(
        default=30.0, gt=0, description="period of outbox republishing"
    )
    auditor_expiry_seconds: float = Field(
        default=300.0,
        gt=0,
        description="period of the justification-expiry scan (groups seen meanwhile re-open at once)",
    )
    auditor_review_scan_seconds: float = Field(
        default=60.0,
        gt=0,
        description="period of the overdue-review scan and of the check for the daily anchor",
    )
    auditor_anchor_after_seconds: float = Field(
        default=900.0,
        ge=0,
        description="how long a process runs before it writes the day's chain anchor",
    )
    auditor_deletion_hold_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description=(
            "a complete sweep that would delete more than this share of an account-region's "
            "groups is held (system.deletion_held) until a second complete sweep confirms it; "
            "1: never held"
        ),
    )
    auditor_deletion_hold_min_groups: int = Field(
        default=10,
        ge=0,
        description="hold mass deletions only in account-regions with more groups than this",
    )
    auditor_summary_delay_seconds: float = Field(
        default=1.0,
        ge=0,
        description=(
            "an account-region's issue summary is recounted this long after a change, once "
            "for all the changes meanwhile, after the alerts (0: at once, in the message's turn)"
        ),
    )
    auditor_lease_seconds: float = Field(
        default=20.0,
        gt=0,
        description=(
            "term of a partition lease: a stopped replica's partitions are taken over "
            "within about this long (renewed every fifth of it; a renewal write may take "
            "up to half of it before the replica lets its partitions go)"
        ),
    )
