"""What `GET /api/v1/exposure` answers: every endpoint the internet reaches, per rule."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from secmonkey.common.topology import ResourceType


class ExposedEndpoint(BaseModel):
    """One resource reachable from the internet through one rule, on one port range."""

    account_id: str
    region: str
    group_id: str
    group_name: str = ""
    vpc_id: str | None = None
    resource_type: ResourceType
    resource_id: str = Field(description="instance ID, interface ID or load balancer name")
    interface_id: str | None = None
    address: str = Field(description="public IPv4/IPv6 address, or the load balancer's DNS name")
    ip_version: int
    protocol: str
    from_port: int
    to_port: int
    ports: str = Field(description="every port range of this endpoint and rule, e.g. tcp/22")
    rule_text: str = Field(description="the rule that lets the internet in")
    route: str = Field(description="rtb-…/igw-…, or internet-facing for a load balancer")
    nacl: str | None = None
    text: str = Field(description="e.g. i-0abc (54.1.2.3) tcp/22 via rtb-1/igw-2")
    observed_at: datetime


class ExposurePage(BaseModel):
    items: list[ExposedEndpoint]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null: last")
