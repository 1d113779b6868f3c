"""Query parameters several routers share, validated before they reach a filter."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from secmonkey.api.schemas.groups import GROUP_ID_PATTERN
from secmonkey.common.messages import ACCOUNT_ID_PATTERN, REGION_PATTERN

Limit = Annotated[int, Query(ge=1, le=500, description="page size")]

GroupId = Annotated[
    str, Path(pattern=GROUP_ID_PATTERN, description="a security group ID, e.g. sg-0abc1234")
]
GroupFilter = Annotated[str | None, Query(pattern=GROUP_ID_PATTERN)]
AccountFilter = Annotated[
    str | None, Query(pattern=ACCOUNT_ID_PATTERN, description="12-digit AWS account ID")
]
RegionFilter = Annotated[
    str | None, Query(pattern=REGION_PATTERN, max_length=32, description="e.g. us-east-1")
]
Cursor = Annotated[
    str | None,
    Query(max_length=2048, description="the next_cursor of the previous page"),
]
