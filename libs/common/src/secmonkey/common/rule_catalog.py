"""The stored rule catalog: every audit rule's id, title, severity and compliance tags.

The rules and their tags are code in the auditor's rules package; the auditor publishes
them here at start (`publish`), with whether its rules file enables each rule, so the
API's posture view and OCSF export know every rule behind a control (even one that has
never fired) without importing the auditor (`read`).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from secmonkey.common.documents import Doc
from secmonkey.common.severity import Severity
from secmonkey.common.storage import Database, Document, is_duplicate_key, with_retry


class CatalogRule(Doc):
    """`rule_catalog`: one audit rule. `_id` is the rule id."""

    id: str = Field(alias="_id")
    title: str
    default_severity: Severity
    compliance: list[str] = Field(default_factory=list)
    enabled: bool = True
    account_overrides: dict[str, bool] = Field(
        default_factory=dict, description="accounts whose rules file turns the rule on or off"
    )
    published_at: datetime


async def publish(db: Database, rules: list[CatalogRule]) -> None:
    """Replace the catalog with `rules` (the auditor's, at start); rules gone are removed."""
    ids = [rule.id for rule in rules]
    for rule in rules:
        doc = rule.to_mongo()
        await with_retry(lambda d=doc: _put(db, d), what="publishing the rule catalog")  # type: ignore[misc]
    await with_retry(
        lambda: db.rule_catalog.delete_many({"_id": {"$nin": ids}}),
        what="publishing the rule catalog",
    )


async def _put(db: Database, doc: Document) -> None:
    """Upsert one rule. Auditor replicas starting together upsert the same rules: the one
    whose insert loses the race (a duplicate key) replaces the document the other made."""
    try:
        await db.rule_catalog.replace_one({"_id": doc["_id"]}, doc, upsert=True)
    except Exception as exc:
        if not is_duplicate_key(exc):
            raise
        await db.rule_catalog.replace_one({"_id": doc["_id"]}, doc)


async def read(db: Database) -> list[CatalogRule]:
    """Every rule of the catalog, by id (empty until an auditor has started once)."""
    docs = await db.rule_catalog.find({}).sort("_id", 1).to_list(None)
    return [CatalogRule.model_validate(d) for d in docs]
