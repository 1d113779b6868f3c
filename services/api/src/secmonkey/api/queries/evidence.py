"""The evidence package of a compliance scope and period (see `secmonkey.api.evidence`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from secmonkey.api.evidence import package, rows
from secmonkey.api.settings import Settings
from secmonkey.common.compliance_scopes import Scope
from secmonkey.common.dates import aware
from secmonkey.common.errors import InvalidInput, NotFound
from secmonkey.common.storage import Database

DEFAULT_DAYS = 90


async def period_of(
    db: Database, scope: str, start: datetime | None, end: datetime | None
) -> rows.Period:
    """The scope and period asked for: `to` defaults to now, `from` to 90 days before."""
    doc = await db.scopes.find_one({"_id": scope})
    if doc is None:
        raise NotFound(f"no compliance scope {scope}")
    try:
        until = aware(end).astimezone(UTC) if end is not None else datetime.now(UTC)
        since = (
            aware(start).astimezone(UTC)
            if start is not None
            else until - timedelta(days=DEFAULT_DAYS)
        )
    except OverflowError:
        raise InvalidInput("from or to is out of range (give both, in UTC)") from None
    if since > until:
        raise InvalidInput("from is after to")
    return rows.Period(Scope.model_validate(doc), since, until)


async def build_package(
    db: Database, settings: Settings, period: rows.Period, requested_by: str
) -> package.Package:
    return await package.build(
        db,
        period,
        requested_by=requested_by,
        spool=settings.evidence_spool_dir,
        pdf_rows=settings.evidence_pdf_rows,
    )
