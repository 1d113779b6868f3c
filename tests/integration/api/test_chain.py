"""Tamper-evident history on the real database: `verify` passes, then names the record an
edit broke; history from before the chain is sealed; anchors go to S3 under Object Lock
(moto) and catch an edit of the newest revision; a chain package verifies offline."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.client.cli import main
from secmonkey.common.chain import ZERO_HASH
from secmonkey.common.chain_verify import verify_database
from secmonkey.common.storage import Database
from tests.integration.api import harness
from tests.integration.auditor.kit import batch, ingress, key, snap
from tests.support.servers import MotoServer

pytestmark = pytest.mark.integration

BUCKET = "secmonkey-anchors"


async def three_revisions(auditor: Auditor, group_id: str = "sg-h") -> str:
    ports = (443, 8443, 9443)
    for n in range(len(ports)):
        rules = [ingress(p, "10.0.0.0/8") for p in ports[: n + 1]]
        await auditor.handle(batch(60 * n, snap(group_id, *rules)))
    return key(group_id)


@pytest.fixture
def live(
    mongo_url: str,
    amqp_url: str,
    db_name: str,
    db: Database,
    moto: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[harness.LiveServer]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings = harness.settings_for(
        mongo_url,
        amqp_url,
        db_name,
        anchor_bucket=BUCKET,
        anchor_endpoint_url=moto.url,
        anchor_region="us-east-1",
        anchor_retention_days=1,
    )
    server = harness.LiveServer(settings).start()
    yield server
    server.stop()


@pytest.fixture
def cli(
    live: harness.LiveServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Any:
    monkeypatch.setenv("SECMONKEY_URL", live.url)
    monkeypatch.setenv("SECMONKEY_API_KEY", harness.ADMIN_KEY)
    monkeypatch.setenv("COLUMNS", "250")

    def run(*args: str, code: int = 0) -> str:
        capsys.readouterr()
        assert main(list(args)) == code
        return capsys.readouterr().out

    return run


def s3(moto: MotoServer) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=moto.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto
    )


async def test_verify_passes_then_names_the_revision_after_a_direct_edit(
    db: Database, cli: Any
) -> None:
    auditor = Auditor(db, RulesConfig())
    k = await three_revisions(auditor)
    revs = await db.revisions.find({"key": k}).sort("seq", 1).to_list(None)
    assert revs[0]["prev_hash"] == ZERO_HASH and all(r["prev_hash"] for r in revs)
    assert "intact" in cli("verify")

    # Someone with database access quietly removes a rule from revision 1.
    await db.revisions.update_one({"_id": f"{k}:1"}, {"$set": {"config.description": "edited"}})
    out = cli("verify", code=1)
    assert f"BREAK revisions {k}:2: prev_hash does not match the revision before" in out
    result = await verify_database(db)
    assert [b.record for b in result.breaks] == [f"{k}:2"]
    # Outside the period, the break is not reported.
    assert "intact" in cli("verify", "--from", "2026-03-01T12:30:00Z")


async def test_history_from_before_the_chain_is_sealed_by_a_genesis_record(db: Database) -> None:
    auditor = Auditor(db, RulesConfig())
    k = await three_revisions(auditor, "sg-old")
    # As an older build left it: no links at all.
    await db.revisions.update_many({"key": k}, {"$unset": {"prev_hash": ""}})
    assert await auditor.seal_history() == 1
    assert await auditor.seal_history() == 0  # once
    genesis = await db.chain_genesis.find_one({"_id": k})
    assert genesis is not None and genesis["through_seq"] == 3
    rules = [ingress(p, "10.0.0.0/8") for p in (443, 8443, 9443, 10443)]
    await auditor.handle(batch(600, snap("sg-old", *rules)))
    assert (await verify_database(db)).ok
    await db.revisions.update_one({"_id": f"{k}:2"}, {"$set": {"changes": ["nothing"]}})
    result = await verify_database(db)
    assert [(b.record, b.reason) for b in result.breaks] == [(f"{k}:2", "differs from genesis")]


async def test_anchor_goes_to_s3_under_object_lock_and_catches_an_edit_of_the_newest_revision(
    db: Database, cli: Any, moto: MotoServer, tmp_path: Path
) -> None:
    bucket = s3(moto)
    bucket.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    auditor = Auditor(db, RulesConfig())
    k = await three_revisions(auditor, "sg-head")
    anchored = json.loads(cli("--json", "chain", "anchor"))
    assert anchored["count"] == 1 and anchored["s3"]["bucket"] == BUCKET
    head = bucket.head_object(Bucket=BUCKET, Key=anchored["s3"]["key"])
    assert head["ObjectLockMode"] == "COMPLIANCE"
    stored = json.loads(bucket.get_object(Bucket=BUCKET, Key=anchored["s3"]["key"])["Body"].read())
    assert stored["root"] == anchored["root"]
    with pytest.raises(ClientError):  # compliance mode: not even the owner can delete it
        bucket.delete_object(
            Bucket=BUCKET, Key=anchored["s3"]["key"], VersionId=anchored["s3"]["version_id"]
        )
    assert await db.events.find_one({"type": "change.anchored"}) is not None

    # An export verifies offline, and so does not its tampered copy.
    package = tmp_path / "chain.json"
    cli("chain", "export", "-o", str(package))
    assert "intact" in cli("verify", "--package", str(package))
    data = json.loads(package.read_text())
    data["revisions"][0]["changes"] = ["forged"]
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(data))
    assert f"{k}:2" in cli("verify", "--package", str(forged), code=1)

    # The newest revision has no successor to betray an edit: the anchor does.
    await db.revisions.update_one({"_id": f"{k}:3"}, {"$set": {"changes": ["nothing to see"]}})
    out = cli("verify", code=1)
    assert f"BREAK revisions {k}:3: differs from the head anchored in {anchored['id']}" in out


async def test_the_auditor_anchors_once_a_day_to_the_locked_bucket(
    db: Database, moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime, timedelta

    from secmonkey.common.chain_anchor import AnchorTarget

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    bucket = s3(moto)
    bucket.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    target = AnchorTarget(BUCKET, region="us-east-1", endpoint_url=moto.url, retention_days=30)
    auditor = Auditor(db, RulesConfig())
    day = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
    assert await auditor.anchor_daily(target, day) is None  # nothing to anchor yet
    await three_revisions(auditor, "sg-daily")
    event = await auditor.anchor_daily(target, day)
    assert event is not None and event.type == "change.anchored"
    assert event.change is not None and event.change.anchor_heads == 1
    assert await auditor.anchor_daily(target, day + timedelta(hours=5)) is None  # same day
    assert await auditor.anchor_daily(target, day + timedelta(days=1)) is not None
    listed = bucket.list_objects_v2(Bucket=BUCKET)["Contents"]
    names = sorted(o["Key"] for o in listed)
    assert names == [
        "secmonkey/anchors/daily-2026-12-06.json",
        "secmonkey/anchors/daily-2026-12-07.json",
    ]
    head = bucket.head_object(Bucket=BUCKET, Key=names[0])
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] >= day + timedelta(days=29)
    assert (await verify_database(db)).ok
