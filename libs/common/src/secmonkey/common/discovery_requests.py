"""Asking the collector to enrol the AWS organization's accounts now (`secmonkey accounts
discover`): the API stores a request in `discovery_requests` (owned by the collector);
the collector holding the scheduler lease picks pending requests up within seconds, runs
discovery once and records the outcome on each request."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from secmonkey.common import storage
from secmonkey.common.messages import new_id, utcnow
from secmonkey.common.storage import Database

Status = Literal["pending", "done", "failed"]


class DiscoveryRequest(BaseModel):
    """One request and, once the collector answered it, what discovery did."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    request_id: str = Field(alias="_id")
    status: Status = "pending"
    requested_at: datetime
    requested_by: str
    finished_at: datetime | None = None
    listed: int | None = Field(default=None, description="accounts in the organization")
    enrolled: list[str] = Field(default_factory=list, description="account IDs enrolled")
    disabled: list[str] = Field(default_factory=list, description="account IDs disabled")
    error: str | None = None


async def request_discovery(db: Database, requested_by: str) -> DiscoveryRequest:
    """Store a pending request (the API's one write here)."""
    request = DiscoveryRequest.model_validate(
        {"_id": new_id(), "requested_at": utcnow(), "requested_by": requested_by}
    )
    doc = request.model_dump(mode="python", by_alias=True)
    await storage.with_retry(
        lambda: db.discovery_requests.insert_one(doc), what="storing a discovery request"
    )
    return request


async def get_request(db: Database, request_id: str) -> DiscoveryRequest | None:
    doc = await storage.with_retry(
        lambda: db.discovery_requests.find_one({"_id": request_id}),
        what="reading a discovery request",
    )
    return None if doc is None else DiscoveryRequest.model_validate(doc)


async def pending_ids(db: Database) -> list[str]:
    docs = await storage.with_retry(
        lambda: db.discovery_requests.find({"status": "pending"}, {"_id": 1}).to_list(None),
        what="reading discovery requests",
    )
    return [str(d["_id"]) for d in docs]
