"""What every channel returns and receives: an outcome per attempt, a batch of notices."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol
from urllib.parse import urlsplit

from secmonkey.common.documents import Subscription
from secmonkey.notifier.notices import Notice

Result = Literal["delivered", "retry", "unknown", "failed"]


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended.

    `delivered`; `retry`: certainly not acted on — nothing was sent (refused, unreachable)
    or the receiver answered an error worth retrying (with its Retry-After); `unknown`: the
    request was sent and no answer came in time, so the receiver may have acted on it;
    `failed`: not worth retrying.
    """

    result: Result
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None

    @classmethod
    def delivered(cls, status_code: int | None = None) -> Outcome:
        return cls("delivered", status_code)

    @classmethod
    def retry(
        cls, error: str, status_code: int | None = None, retry_after: float | None = None
    ) -> Outcome:
        return cls("retry", status_code, error, retry_after)

    @classmethod
    def unknown(cls, error: str) -> Outcome:
        return cls("unknown", None, error)

    @classmethod
    def failed(cls, error: str, status_code: int | None = None) -> Outcome:
        return cls("failed", status_code, error)

    @property
    def sent(self) -> bool:
        """Did the request reach the receiver, or may it have: answered, or no answer in time."""
        return self.result == "unknown" or self.status_code is not None


@dataclass(frozen=True)
class Batch:
    """What one delivery carries: one notice (`event`) or a window of them (`digest`)."""

    delivery_id: str
    kind: Literal["event", "digest"]
    notices: list[Notice]
    idempotency_key: str
    secrets: list[str] = field(default_factory=list)
    created_at: datetime | None = None  # when the delivery was made: the same on every attempt

    @property
    def single(self) -> Notice:
        return self.notices[0]


class Sender(Protocol):
    async def send(self, subscription: Subscription, batch: Batch) -> Outcome: ...

    async def close(self) -> None: ...


def redact(text: str, secrets: list[str]) -> str:
    """Remove every secret (webhook URLs, their paths, signing secrets) from an error text."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    return text[:500]


def secrets_of(subscription: Subscription) -> list[str]:
    """Strings that must never reach a log line or `deliveries`."""
    channel = subscription.channel
    found = [channel.secret or "", channel.url or ""]
    if channel.url:
        with contextlib.suppress(ValueError):
            parts = urlsplit(channel.url)
            found += [parts.path, parts.query]
    return [s for s in found if s and s != "/"]
