"""Settings every service shares; each service subclasses `CommonSettings`."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev", "development"})


class CommonSettings(BaseSettings):
    """Connection and logging settings read from `SECMONKEY_*` environment variables."""

    model_config = SettingsConfigDict(
        env_prefix="SECMONKEY_", env_ignore_empty=True, extra="ignore", env_file=None
    )

    environment: Literal["development", "test", "production"] = "development"
    host: str = Field(default="127.0.0.1", description="address the service's HTTP server binds")
    port: int = Field(default=8000, ge=1, le=65535, description="the service's HTTP port")
    mongo_url: str = "mongodb://127.0.0.1:27017/"
    mongo_db: str = "secmonkey"
    storage_capabilities: str | None = Field(
        default=None,
        description=(
            "what the database can do, comma-separated (conditional_writes, indexed_filters, "
            "element_match, large_bulk_writes, indexed_id_lists, or none); default: detected "
            "(MongoDB, FerretDB)"
        ),
    )
    mongo_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description=(
            "client-side deadline of each database operation (PyMongo timeoutMS; each batch "
            "of a cursor gets its own): a frozen or unanswering server raises, and the "
            "caller waits and retries as for an unreachable one, instead of hanging"
        ),
    )
    amqp_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/",
        description="RabbitMQ; several nodes of a cluster comma-separated (tried in turn)",
    )
    partitions: int = Field(
        default=16,
        ge=0,
        le=256,
        description=(
            "snapshot partitions (queues the auditor replicas share out; 0: one queue); "
            "collectors and auditors must agree; changing it needs draining"
        ),
    )
    publish_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description=(
            "deadline of a publish (and its confirm): past it, a broker that is unreachable "
            "or blocked by a memory or disk alarm is an error, not a hang"
        ),
    )
    anchor_bucket: str | None = Field(
        default=None,
        description="S3 bucket (Object Lock enabled) that chain anchors are written to",
    )
    anchor_prefix: str = "secmonkey/anchors/"
    anchor_retention_days: int = Field(default=2555, ge=1, le=36500)
    anchor_region: str | None = None
    anchor_endpoint_url: str | None = Field(default=None, description="S3 endpoint (tests: moto)")
    log_level: str = "INFO"
    log_json: bool | None = Field(
        default=None, description="JSON log lines; default: when stderr is not a terminal"
    )
    prefetch: int = Field(default=16, ge=1, le=1000)
    public_url: str = Field(
        default="http://127.0.0.1:8000", description="Base URL of the API, used in alert links"
    )
    declare_at_start: bool = Field(
        default=True,
        description=(
            "create indexes, exchanges and queues at start (local and development: the "
            "service's credentials may); false: only check they exist and stop naming what "
            "is missing (production: `secmonkey admin provision` creates them, the services' "
            "least-privilege users may not)"
        ),
    )
    consumer_report_seconds: float = Field(
        default=30.0,
        ge=0,
        description="how often each consumer's state goes to `consumer_reports` (0: never)",
    )

    encryption_keys: SecretStr | None = Field(
        default=None,
        description="Fernet keys sealing credentials stored in the database, comma-separated: "
        "the first seals, every one opens (see secmonkey.common.sealed); required in production "
        "by the services that seal or open them; unset elsewhere: a fixed development key",
    )
    # The services that seal or open stored credentials (api, notifier, collector) set this.
    needs_encryption_keys: ClassVar[bool] = False

    @model_validator(mode="after")
    def _no_default_credentials_in_production(self) -> CommonSettings:
        if self.environment == "production" and "guest:guest@" in self.amqp_url:
            raise ValueError("SECMONKEY_AMQP_URL uses RabbitMQ's guest account in production")
        return self

    @model_validator(mode="after")
    def _encryption_keys(self) -> CommonSettings:
        from secmonkey.common.sealed import parse_keys

        if self.encryption_keys is not None:
            parse_keys(self.encryption_keys.get_secret_value())
        elif self.needs_encryption_keys and self.environment == "production":
            raise ValueError(
                "SECMONKEY_ENCRYPTION_KEYS is required in production: credentials in the "
                "database are sealed with it"
            )
        return self


def refuse_placeholder(value: str, name: str, environment: str) -> str:
    """Refuse an empty or placeholder secret outside development and test."""
    if environment == "production" and value.strip().lower() in PLACEHOLDER_SECRETS:
        raise ValueError(f"{name} is a placeholder; set a real secret in production")
    return value
