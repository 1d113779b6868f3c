"""Evidence package benchmark: build time and peak Python memory of `GET /evidence` for a
scope of G groups with R reviewed revisions each, on the MongoDB-compatible server.

Seeds a fresh database through the auditor (every revision of a group in scope becomes a
pending review), approves the first 100 with a ticket (one decision is a few sequential
reads and writes: approving thousands takes long on a loaded machine), then builds the package in process
(`secmonkey.api.evidence.package.build`) under `tracemalloc`, twice the size apart, so
the peak shows whether memory grows with the package (it should not: the package is
spooled to disk a page or a group at a time).

Run: `uv run --frozen python bench/evidence/run.py --groups 200 400 --revisions 3`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta

from secmonkey.api.evidence import package, rows
from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common import change_reviews, storage
from secmonkey.common.canonical import CanonicalGroup, GroupSnapshot, Rule
from secmonkey.common.compliance_scopes import Scope
from secmonkey.common.messages import SnapshotBatch

ACCOUNT, REGION = "111111111111", "eu-west-1"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 200
APPROVED = 100  # reviews approved (and chained); the rest stay pending


def group(i: int, revision: int) -> GroupSnapshot:
    rules = [
        Rule(direction="ingress", protocol="tcp", from_port=p, to_port=p, source_kind="cidr4",
             source="10.0.0.0/8", description="app")
        for p in range(8000, 8001 + revision)
    ]  # fmt: skip
    config = CanonicalGroup(
        group_id=f"sg-{i:017x}", name=f"pci-app-{i}",
        description="cardholder app", vpc_id="vpc-1", owner_id=ACCOUNT, rules=rules,
        tags={"compliance": "pci"},
    )  # fmt: skip
    return GroupSnapshot.of(config)


async def seed(db: storage.Database, groups: int, revisions: int) -> int:
    await db.scopes.insert_one(
        Scope.model_validate({"_id": "pci", "tags": {"compliance": "pci"}}).to_mongo()
    )
    auditor = Auditor(db, RulesConfig())
    for revision in range(revisions):
        print(f"seeding revision {revision + 1} of {groups} groups", flush=True)
        for start in range(0, groups, BATCH):
            snaps = [group(i, revision) for i in range(start, min(groups, start + BATCH))]
            await auditor.handle(
                SnapshotBatch(sweep_id=f"s{revision}-{start}", account_id=ACCOUNT, region=REGION,
                              observed_at=T0 + timedelta(hours=revision), groups=snaps)
            )  # fmt: skip
    print("approving", flush=True)
    found = db.change_reviews.find({"status": "pending"}, {"_id": 1}).limit(APPROVED)
    ids = [d["_id"] async for d in found]
    for review_id in ids:
        await change_reviews.decide(
            db, review_id, status="approved", reviewer="servicenow", ticket="CHG-1", comment=None
        )
    return await db.change_reviews.count_documents({})


async def measure(url: str, groups: int, revisions: int) -> None:
    client = storage.connect(url)
    name = f"bench_evidence_{uuid.uuid4().hex[:8]}"
    db = client[name]
    await storage.detect(client)
    await storage.ensure_indexes(db)
    try:
        started = time.perf_counter()
        reviews = await seed(db, groups, revisions)
        seeded = time.perf_counter() - started
        scope = Scope.model_validate(await db.scopes.find_one({"_id": "pci"}))
        period = rows.Period(scope, T0 - timedelta(days=1), T0 + timedelta(days=30))
        tracemalloc.start()
        started = time.perf_counter()
        built = await package.build(db, period, requested_by="bench")
        took = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        built.discard()
        print(
            f"groups={groups} reviews={reviews} (seeded in {seeded:.0f} s): package "
            f"{built.size / 1e6:.2f} MB in {took:.1f} s, peak Python memory {peak / 1e6:.1f} MB"
        )
        print(
            f"RESULT groups={groups} reviews={reviews} zip_mb={built.size / 1e6:.2f} "
            f"build_s={took:.1f} peak_mb={peak / 1e6:.1f}"
        )
    finally:
        await client.drop_database(name)
        await client.close()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, nargs="+", default=[200, 400])
    parser.add_argument("--revisions", type=int, default=3)
    args = parser.parse_args()
    url = os.environ.get("SECMONKEY_MONGO_URL", "mongodb://127.0.0.1:27017/")
    for groups in args.groups:
        asyncio.run(measure(url, groups, args.revisions))


if __name__ == "__main__":
    main()
