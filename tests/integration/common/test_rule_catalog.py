"""The stored rule catalog, published by auditor replicas starting together."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from secmonkey.common import rule_catalog
from secmonkey.common.rule_catalog import CatalogRule
from secmonkey.common.severity import Severity
from secmonkey.common.storage import Database

pytestmark = pytest.mark.integration


def rules(title: str) -> list[CatalogRule]:
    at = datetime.now(UTC)
    return [
        CatalogRule(
            id=f"rule-{n:02d}",
            title=f"{title} {n}",
            default_severity=Severity.HIGH,
            published_at=at,
        )
        for n in range(20)
    ]


async def test_replicas_publishing_the_catalog_at_once_all_start(db: Database) -> None:
    """Three auditors upsert the same rules at the same moment (the chaos harness's three
    replicas did): none fails on the duplicate key its racing upsert meets."""
    for _ in range(3):  # a few rounds: the race is not met every time
        await db.rule_catalog.delete_many({})
        await asyncio.gather(*(rule_catalog.publish(db, rules("same")) for _ in range(3)))
    stored = await rule_catalog.read(db)
    assert [r.id for r in stored] == [f"rule-{n:02d}" for n in range(20)]
    assert {r.title for r in stored} == {f"same {n}" for n in range(20)}
