"""Rule search by IP address or CIDR."""

from __future__ import annotations

from pydantic import BaseModel, Field

from secmonkey.api.schemas.groups import RuleView


class RuleMatch(BaseModel):
    key: str
    group_id: str
    group_name: str
    account_id: str
    account_name: str | None = None
    region: str
    vpc_id: str | None = None
    rule: RuleView


class SearchResult(BaseModel):
    query: str = Field(description="the address or network searched, normalised")
    match: str
    results: list[RuleMatch]
    next_cursor: str | None = Field(
        default=None, description="more groups may match: pass as `cursor` for the next page"
    )
    partial: bool = Field(
        default=False,
        description="the page stopped at the search's cost bound (groups examined), not at "
        "`limit`: fewer results than asked for, and `next_cursor` continues the walk",
    )
    scanned: int | None = Field(
        default=None, description="groups examined for this page (`within`, `overlaps`)"
    )
