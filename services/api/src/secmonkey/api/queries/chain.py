"""The hash chains: verify, export a chain package, anchor on demand."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from secmonkey.api.problems import Problem
from secmonkey.api.queries.events import record_event
from secmonkey.api.schemas.change_control import AnchorView, VerificationView
from secmonkey.common import chain_anchor
from secmonkey.common.chain_verify import export_package, verify_database
from secmonkey.common.outbox import Outbox
from secmonkey.common.storage import Database


async def verify(db: Database, start: datetime | None, end: datetime | None) -> VerificationView:
    return VerificationView.model_validate((await verify_database(db, start, end)).as_dict())


async def export(db: Database) -> dict[str, Any]:
    return await export_package(db)


def _view(doc: dict[str, Any]) -> AnchorView:
    return AnchorView(
        id=doc["_id"], at=doc["at"], root=doc["root"], count=doc["count"], s3=doc["s3"]
    )


async def anchor_now(db: Database, outbox: Outbox, settings: Any) -> AnchorView:
    try:
        made = await chain_anchor.anchor(db, chain_anchor.target_of(settings))
    except chain_anchor.AnchorWriteFailed as exc:
        raise Problem(502, str(exc), kind="anchor-write-failed") from None
    assert made is not None  # a fresh name, to the millisecond
    doc, event = made
    await record_event(db, outbox, event)
    return _view(doc)


async def latest(db: Database) -> AnchorView | None:
    doc = await chain_anchor.latest_anchor(db)
    return None if doc is None else _view(doc)
