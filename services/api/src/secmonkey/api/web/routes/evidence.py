"""The console's evidence download: the same package and audit entry as `GET /evidence`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import TypeAdapter, ValidationError
from starlette.background import BackgroundTask

from secmonkey.api.audit import actions
from secmonkey.api.audit.deps import console_trail
from secmonkey.api.deps import Db
from secmonkey.api.settings import Settings
from secmonkey.api.web.deps import Auditor, Blank, at_most
from secmonkey.common.compliance_scopes import SCOPE_NAME_PATTERN
from secmonkey.common.errors import InvalidInput

router = APIRouter()
DAY_END = timedelta(days=1) - timedelta(milliseconds=1)


def _end_of(value: str | None) -> datetime | None:
    """A date picked as `to` means the end of that day."""
    if value is None:
        return None
    try:
        when = TypeAdapter(datetime).validate_python(value)
    except ValidationError:
        raise InvalidInput(f"to: expected a date or time, got {value[:40]!r}") from None
    return when + DAY_END if len(value) == len("2026-12-31") else when


@router.get("/evidence")
async def download(
    request: Request,
    db: Db,
    caller: Auditor,
    scope: Annotated[str, Query(pattern=SCOPE_NAME_PATTERN)],
    start: Annotated[datetime | None, Blank, Query(alias="from")] = None,
    end: Annotated[str | None, Blank, at_most(40), Query(alias="to")] = None,
) -> StreamingResponse:
    settings: Settings = request.app.state.settings
    trail = console_trail(request, db, caller.principal)
    built = await actions.download_evidence(trail, settings, scope, start, _end_of(end))
    return StreamingResponse(
        built.chunks(),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{built.name}"',
            "Content-Length": str(built.size),
        },
        background=BackgroundTask(built.discard),
    )
