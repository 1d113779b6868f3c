"""A crash between a review decision and its chain record leaves the decision out of the
chain (and a retry cannot redo it: the review is no longer pending). The chain writer
appends it on the group's next decision, and the auditor's start repairs every group;
both only once, and the chains verify afterwards."""

from __future__ import annotations

from datetime import timedelta

import pytest

from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common import change_reviews
from secmonkey.common.chain_verify import verify_database
from secmonkey.common.change_reviews import ChangeReview
from secmonkey.common.compliance_scopes import Scope
from secmonkey.common.review_chain import missing_decisions, repair_review_chains
from secmonkey.common.storage import Database
from tests.integration.auditor.kit import T0, batch, ingress, key, snap

pytestmark = pytest.mark.integration

PCI = {"compliance": "pci"}


async def crashed_decision(db: Database, review_id: str, ticket: str, minutes: int) -> None:
    """What `decide` writes before it appends to the chain, and then nothing: the crash."""
    fields = ChangeReview.fields(
        status="approved",
        reviewer="servicenow",
        ticket=ticket,
        comment=None,
        decided_at=T0 + timedelta(minutes=minutes),
        auto=False,
    )
    done = await db.change_reviews.update_one(
        {"_id": review_id, "status": "pending"}, {"$set": fields}
    )
    assert done.modified_count == 1


async def reviewed_groups(db: Database, *group_ids: str) -> None:
    await db.scopes.insert_one(Scope.model_validate({"_id": "pci", "tags": PCI}).to_mongo())
    auditor = Auditor(db, RulesConfig())
    for step, ports in enumerate(((443,), (443, 8443))):
        groups = [snap(g, *(ingress(p, "10.0.0.0/8") for p in ports), tags=PCI) for g in group_ids]
        await auditor.handle(batch(60 * step, *groups))


async def test_the_next_decision_of_the_group_appends_the_one_a_crash_left_out(
    db: Database,
) -> None:
    await reviewed_groups(db, "sg-crash")
    first, second = f"{key('sg-crash')}:1", f"{key('sg-crash')}:2"
    await crashed_decision(db, first, "CHG-1", minutes=5)
    assert await db.review_chain.count_documents({}) == 0
    assert [d["_id"] for d in await missing_decisions(db, key("sg-crash"))] == [first]
    # The retry of the crashed decision cannot redo it: the review is decided.
    with pytest.raises(change_reviews.AlreadyDecided):
        await change_reviews.decide(
            db, first, status="approved", reviewer="servicenow", ticket="CHG-1", comment=None
        )

    await change_reviews.decide(
        db, second, status="approved", reviewer="servicenow", ticket="CHG-2", comment=None
    )
    chain = await db.review_chain.find({"key": key("sg-crash")}).sort("n", 1).to_list(None)
    assert [(r["n"], r["review_id"], r["ticket"]) for r in chain] == [
        (1, first, "CHG-1"),
        (2, second, "CHG-2"),
    ]
    assert await missing_decisions(db, key("sg-crash")) == []
    verified = await verify_database(db)
    assert verified.ok and verified.reviews == 2


async def test_the_start_repair_appends_every_missing_decision_once(db: Database) -> None:
    await reviewed_groups(db, "sg-a", "sg-b")
    # sg-a: the decision of revision 1 crashed before its chain record; sg-b: revision 2.
    await crashed_decision(db, f"{key('sg-a')}:1", "CHG-10", minutes=3)
    await db.change_reviews.update_one(
        {"_id": f"{key('sg-b')}:1"}, {"$set": {"status": "pending"}}
    )  # sg-b:1 stays pending: nothing to chain
    await crashed_decision(db, f"{key('sg-b')}:2", "CHG-20", minutes=4)

    assert await repair_review_chains(db, page=1) == 2  # pages of one: every page is read
    assert await repair_review_chains(db) == 0  # idempotent
    records = await db.review_chain.find({}).sort("_id", 1).to_list(None)
    assert [(r["_id"], r["review_id"]) for r in records] == [
        (f"{key('sg-a')}:1", f"{key('sg-a')}:1"),
        (f"{key('sg-b')}:1", f"{key('sg-b')}:2"),
    ]
    assert await db.review_chain.count_documents({"key": key("sg-a")}) == 1
    verified = await verify_database(db)
    assert verified.ok and verified.reviews == 2

    # A later decision on sg-a goes after the repaired one.
    await change_reviews.decide(
        db, f"{key('sg-a')}:2", status="rejected", reviewer="servicenow", ticket=None, comment=None
    )
    chain = await db.review_chain.find({"key": key("sg-a")}).sort("n", 1).to_list(None)
    assert [r["n"] for r in chain] == [1, 2] and chain[1]["status"] == "rejected"
    assert (await verify_database(db)).ok
