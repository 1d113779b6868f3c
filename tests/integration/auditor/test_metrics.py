"""What the auditor applied, by outcome, on `/metrics` (throughput and a backlog's end)."""

from __future__ import annotations

from prometheus_client import REGISTRY

from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common.storage import Database
from tests.integration.auditor.kit import batch, completed, ingress, snap


def applied(outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "secmonkey_auditor_groups_applied_total", {"outcome": outcome}
    )
    return value or 0.0


async def test_each_group_applied_is_counted_by_outcome(db: Database) -> None:
    auditor = Auditor(db, RulesConfig())
    before = {o: applied(o) for o in ("created", "unchanged", "changed", "deleted")}
    await auditor.handle(batch(0, snap("sg-a"), snap("sg-b")))
    await auditor.handle(batch(1, snap("sg-a"), snap("sg-b", ingress(22, "10.0.0.0/8"))))
    await auditor.handle(completed(5, ["sg-b"]))
    assert {o: applied(o) - before[o] for o in before} == {
        "created": 2,
        "unchanged": 1,
        "changed": 1,
        "deleted": 1,
    }
