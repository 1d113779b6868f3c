"""Dead letters: what each consumer queue could not process, and what to do with it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

# The path names a consumer queue; only the configured ones are accepted.
QUEUE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$"
LETTER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,199}$"
MAX_IDS = 1000


class DeadLetterView(BaseModel):
    id: str = Field(description="the message's id, or `h-…` (a hash of its content) without one")
    queue: str = Field(description="the consumer queue it came from (and is replayed into)")
    reason: str
    dead_lettered_at: datetime | None
    published_at: datetime | None
    age_seconds: float | None = Field(description="since it was dead-lettered (else published)")
    published_by: str | None = Field(description="the broker user that published it")
    message_id: str | None
    routing_key: str | None
    content_type: str | None
    size: int = Field(description="body size in bytes")
    preview: str = Field(description="the start of the body, as text")


class DeadLetterDetail(DeadLetterView):
    headers: dict[str, Any]
    body: str = Field(description="the whole body, as text (invalid UTF-8 replaced)")


class DeadLetterQueueView(BaseModel):
    queue: str
    dead_letter_queue: str
    depth: int = Field(description="messages waiting in the dead-letter queue")
    exists: bool = Field(description="false when the dead-letter queue was never declared")
    messages: list[DeadLetterView]
    truncated: bool = Field(description="more messages wait than are listed (raise `limit`)")


class DeadLetterList(BaseModel):
    queues: list[DeadLetterQueueView]


class DeadLetterSelection(BaseModel):
    """Which dead letters of a queue: the given ids, or all of them."""

    model_config = ConfigDict(extra="forbid")

    ids: list[str] | None = Field(default=None, max_length=MAX_IDS)
    all: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> DeadLetterSelection:
        if self.all == bool(self.ids):
            raise ValueError("give either `ids` (one or more) or `all: true`")
        return self


class DeadLetterOutcome(BaseModel):
    queue: str
    done: list[str] = Field(description="the ids replayed (or purged)")
    not_found: list[str] = Field(description="requested ids not in the dead-letter queue")
    removed: int = Field(description="messages removed from the dead-letter queue")
    depth: int = Field(description="messages left in the dead-letter queue")
