"""The notifier's settings: SMTP, webhook safety, delivery retries, digests."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator

from secmonkey.common.amqp import NOTIFIER_QUEUE
from secmonkey.common.settings import CommonSettings, refuse_placeholder


class Settings(CommonSettings):
    """`SECMONKEY_*` environment variables read by the notifier."""

    needs_encryption_keys: ClassVar[bool] = True  # opens/seals stored credentials

    host: str = "127.0.0.1"
    port: int = Field(default=8003, ge=1, le=65535)

    prefetch: int = Field(
        default=256,
        ge=1,
        le=1000,
        description="events in hand at once; recording them is batched, so more is cheaper",
    )
    queue: str = Field(default=NOTIFIER_QUEUE.name, description="consumer queue of events")
    queue_bindings: list[str] = Field(
        default_factory=lambda: list(NOTIFIER_QUEUE.routing_keys),
        description="routing keys binding the queue to secmonkey.events",
    )

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "secmonkey <secmonkey@localhost>"
    smtp_timeout: float = Field(default=15.0, gt=0)
    smtp_local_hostname: str | None = Field(
        default=None,
        description="name sent in EHLO (default: this host's fully qualified name, looked up once)",
    )

    webhook_allow_http: bool = Field(
        default=False, description="allow plain-http webhook URLs (development only)"
    )
    webhook_allow_private: bool = Field(
        default=False, description="allow loopback and private webhook targets"
    )
    webhook_timeout: float = Field(
        default=10.0, gt=0, description="seconds per webhook attempt in all: connect, send, answer"
    )

    retry_base_seconds: float = Field(default=2.0, gt=0, description="first retry delay")
    retry_max_seconds: float = Field(default=600.0, gt=0, description="longest delay between tries")
    ambiguous_retry_seconds: float = Field(
        default=300.0,
        gt=0,
        description="wait after an attempt that was sent and got no answer in time (doubling "
        "with each further one): long enough for a slow receiver to have answered",
    )
    delivery_max_age_seconds: float = Field(
        default=86400.0, gt=0, description="give up (dead-letter) a delivery this old"
    )
    retry_poll_seconds: float = Field(
        default=1.0, gt=0, description="how often due retries are checked for"
    )
    per_target_concurrency: int = Field(default=8, ge=1, description="in-flight sends per host")
    max_in_flight: int = Field(default=128, ge=1, description="in-flight sends in all")

    digest_flush_seconds: float = Field(default=5.0, gt=0, description="how often windows close")
    digest_window_seconds: float | None = Field(
        default=None, gt=0, description="override every subscription's digest window (tests, demos)"
    )
    digest_max_events: int = Field(default=500, ge=1, description="events per digest message")

    subscription_cache_seconds: float = Field(
        default=5.0, ge=0, description="how long subscriptions and account labels are cached"
    )

    @model_validator(mode="after")
    def _no_placeholder_smtp_password(self) -> Settings:
        if self.smtp_password is not None:
            refuse_placeholder(
                self.smtp_password.get_secret_value(), "SECMONKEY_SMTP_PASSWORD", self.environment
            )
        return self

    @model_validator(mode="after")
    def _ambiguous_wait_outlasts_an_attempt(self) -> Settings:
        if self.ambiguous_retry_seconds <= max(self.webhook_timeout, self.smtp_timeout):
            raise ValueError(
                "SECMONKEY_AMBIGUOUS_RETRY_SECONDS must be longer than SECMONKEY_WEBHOOK_TIMEOUT "
                "and SECMONKEY_SMTP_TIMEOUT: a receiver or relay that did not answer in time "
                "must get longer than that to do so"
            )
        return self

    @property
    def lease_seconds(self) -> float:
        """How long a claimed delivery stays with its sender before another replica may retry it."""
        return 2 * max(self.webhook_timeout, self.smtp_timeout) + 10
