"""EKS tags such as `kubernetes.io/cluster/prod` carry dots: they must store and read back.

FerretDB refuses dots in field names, so tags are stored as {key, value} pairs; a group
with such a tag would otherwise be dead-lettered on every sweep and never be audited.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import load_rules
from secmonkey.common.canonical import CanonicalGroup, GroupSnapshot, Rule
from secmonkey.common.documents import Item, Revision
from secmonkey.common.item_keys import item_key
from secmonkey.common.messages import SnapshotBatch
from secmonkey.common.storage import Database

pytestmark = pytest.mark.integration
ACCOUNT, REGION = "111111111111", "us-east-1"


def batch(tags: dict[str, str], at: datetime) -> SnapshotBatch:
    group = CanonicalGroup(
        group_id="sg-0eks",
        name="eks-nodes",
        owner_id=ACCOUNT,
        vpc_id="vpc-1",
        tags=tags,
        rules=[
            Rule(
                direction="ingress",
                protocol="tcp",
                from_port=443,
                to_port=443,
                source_kind="cidr4",
                source="10.0.0.0/8",
            )
        ],
    )
    return SnapshotBatch(
        sweep_id=f"s-{at.timestamp()}",
        account_id=ACCOUNT,
        region=REGION,
        observed_at=at,
        groups=[GroupSnapshot.of(group)],
    )


async def test_dotted_tag_keys_are_stored_compared_and_read_back(db: Database) -> None:
    auditor = Auditor(db, load_rules(None))
    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    first = {"kubernetes.io/cluster/prod": "owned", "app.kubernetes.io/name": "nodes"}
    await auditor.handle(batch(first, t0))
    await auditor.handle(
        batch({**first, "kubernetes.io/cluster/prod": "shared"}, t0 + timedelta(minutes=15))
    )

    key = item_key(ACCOUNT, REGION, "sg-0eks")
    item = Item.model_validate(await db.items.find_one({"_id": key}))
    assert item.config.tags == {
        "app.kubernetes.io/name": "nodes",
        "kubernetes.io/cluster/prod": "shared",
    }
    revisions = [
        Revision.model_validate(r) async for r in db.revisions.find({"key": key}).sort("seq", 1)
    ]
    assert [r.seq for r in revisions] == [1, 2]
    assert revisions[0].config.tags == first
    assert revisions[1].changes == ["tag kubernetes.io/cluster/prod: owned → shared"]
    assert revisions[1].fingerprint == item.fingerprint
