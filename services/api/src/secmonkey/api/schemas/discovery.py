"""`/accounts/discover`: a request to enrol the AWS organization's accounts, and its outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from secmonkey.common.discovery_requests import DiscoveryRequest


class DiscoveryView(BaseModel):
    request_id: str
    status: Literal["pending", "done", "failed"]
    requested_at: datetime
    requested_by: str
    finished_at: datetime | None = None
    listed: int | None = Field(default=None, description="accounts in the organization")
    enrolled: list[str] = Field(default_factory=list, description="account IDs enrolled")
    disabled: list[str] = Field(default_factory=list, description="account IDs disabled")
    error: str | None = None
    status_url: str

    @classmethod
    def of(cls, request: DiscoveryRequest, prefix: str) -> DiscoveryView:
        return cls(
            **request.model_dump(),
            status_url=f"{prefix}/accounts/discover/{request.request_id}",
        )
