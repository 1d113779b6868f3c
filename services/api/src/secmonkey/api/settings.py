"""The API's settings, read from `SECMONKEY_*` environment variables."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, model_validator

from secmonkey.api.security_settings import SecuritySettings
from secmonkey.api.web.settings import ConsoleSettings
from secmonkey.common.amqp import AUDITOR_QUEUE, NOTIFIER_QUEUE, SWEEPS, with_partition_queues
from secmonkey.common.amqp.topology import SECURITYHUB_QUEUE
from secmonkey.common.messages import SWEEPS_QUEUE
from secmonkey.common.settings import refuse_placeholder

MIN_BOOTSTRAP_KEY_LENGTH = 20


class Settings(ConsoleSettings, SecuritySettings):
    """What the API needs beyond the shared connection settings (and the console's)."""

    needs_encryption_keys: ClassVar[bool] = True  # opens/seals stored credentials

    bootstrap_admin_key: SecretStr | None = Field(
        default=None,
        description="an admin API key created (hashed) at start if absent: the first key",
    )
    key_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description="how long a verified key is trusted without re-reading it (revocation delay)",
    )
    sweeps_queue: str = Field(default=SWEEPS_QUEUE, description="where POST /sweeps publishes")
    evidence_spool_dir: str | None = Field(
        default=None,
        description="where evidence packages are spooled while built and sent (default: "
        "the system's temporary folder)",
    )
    evidence_pdf_rows: int = Field(
        default=2000, ge=10, le=100_000, description="rows per part of an evidence PDF"
    )
    outbox_republish_seconds: float = Field(
        default=10.0,
        gt=0,
        description="period of republishing what RabbitMQ did not take (sweep requests, "
        "issue.justified events waiting in `api_outbox`)",
    )
    webhook_allow_http: bool = Field(
        default=False, description="accept plain-http webhook URLs in subscriptions (development)"
    )
    webhook_allow_private: bool = Field(
        default=False, description="accept loopback and private webhook targets"
    )
    webhook_resolve: bool = Field(
        default=True, description="resolve webhook hosts when a subscription is saved"
    )
    consumer_queues: list[str] = Field(
        default=[SWEEPS.name, AUDITOR_QUEUE.name, NOTIFIER_QUEUE.name, SECURITYHUB_QUEUE.name],
        description="the consumer queues whose dead letters /dead-letters lists and replays",
    )
    dead_letter_metrics_seconds: float = Field(
        default=60.0,
        ge=0,
        description="how often the dead-letter depth gauge is refreshed (0: off)",
    )
    report_limit: int = Field(
        default=1000, ge=1, le=100_000, description="issues listed in a JSON/HTML report by default"
    )
    metrics_host: str | None = Field(
        default=None, description="address of the probes and metrics server; default: `host`"
    )
    metrics_port: int = Field(
        default=9100,
        ge=1,
        le=65535,
        description="port of /healthz, /readyz and /metrics (never served on the API's port)",
    )
    search_scan_limit: int = Field(
        default=5000,
        ge=1,
        description="groups a `within`/`overlaps` search examines for one page before it "
        "answers a partial page with a cursor",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="largest request body accepted (413 beyond), checked before authentication",
    )
    max_form_bytes: int = Field(
        default=64 * 1024, ge=1024, description="largest form body (console pages)"
    )
    max_form_fields: int = Field(default=50, ge=1, description="most fields in one form")
    max_form_field_bytes: int = Field(
        default=8 * 1024, ge=64, description="largest single form field"
    )

    @model_validator(mode="after")
    def _partition_queues(self) -> Settings:
        """Dead letters of a partitioned auditor are in each partition's dead-letter queue."""
        if AUDITOR_QUEUE.name in self.consumer_queues and self.partitions > 0:
            queues = with_partition_queues(self.consumer_queues, self.partitions)
            self.consumer_queues = list(dict.fromkeys(queues))
        return self

    @model_validator(mode="after")
    def _real_bootstrap_key(self) -> Settings:
        if self.bootstrap_admin_key is not None:
            value = self.bootstrap_admin_key.get_secret_value()
            refuse_placeholder(value, "SECMONKEY_BOOTSTRAP_ADMIN_KEY", self.environment)
            if self.environment == "production" and len(value) < MIN_BOOTSTRAP_KEY_LENGTH:
                raise ValueError(
                    f"SECMONKEY_BOOTSTRAP_ADMIN_KEY must be at least "
                    f"{MIN_BOOTSTRAP_KEY_LENGTH} characters"
                )
        return self
