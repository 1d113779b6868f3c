"""The API's settings, read from `SECMONKEY_*` environment variables."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, model_validator

from secmonkey.api.security_settings import SecuritySettings
from secmonkey.api.web.settings import ConsoleSettings
from secmonkey.common.amqp import AUDITOR_QUEUE, NOTIFIER_QUEUE, SWEEPS
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
        default=[SWEEPS.name, AUDITOR_QUEUE.name, NOTIFIER_QUEUE.name],
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
