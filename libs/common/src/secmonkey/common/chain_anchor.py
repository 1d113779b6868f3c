"""Anchors: the heads of every chain (each group's newest revision and newest review
record) hashed into one root, stored in `chain_anchors`, written as a `change.anchored`
event and, when a bucket is configured, to an S3 object under Object Lock in compliance
mode, which nobody (not even the bucket's owner) can overwrite or delete before its
retention ends. The auditor anchors once a day; the API on demand.

An anchor is what turns the chains into evidence: `verify` checks that every anchored
head is still in its chain. Without an anchor kept outside the database, someone with
write access to the database could rewrite a whole chain (every hash after an edit).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from secmonkey.common.chain import heads_root, review_hash, revision_hash
from secmonkey.common.messages import ChangeRef, Event, utcnow
from secmonkey.common.storage import Database, Store, insert_unique

READ_BATCH = 500


class AnchorWriteFailed(Exception):
    """The anchor could not be written to its bucket (nothing was stored)."""


@dataclass(frozen=True)
class AnchorTarget:
    """Where anchors go besides the database: an S3 bucket with Object Lock enabled."""

    bucket: str
    prefix: str = "secmonkey/anchors/"
    retention_days: int = 2555
    region: str | None = None
    endpoint_url: str | None = None


async def chain_heads(db: Database) -> list[tuple[str, str, int, str]]:
    """(chain, key, position, hash) of every group's newest revision and review record."""
    store = Store(db)
    heads: list[tuple[str, str, int, str]] = []
    items = await db.items.find({}, {"_id": 1, "seq": 1}).to_list(None)
    for start in range(0, len(items), READ_BATCH):
        part = items[start : start + READ_BATCH]
        found = await store.read("revisions", [f"{d['_id']}:{d['seq']}" for d in part])
        for d in part:
            rev = found.get(f"{d['_id']}:{d['seq']}")
            if rev is not None:
                heads.append(("revisions", d["_id"], int(d["seq"]), revision_hash(rev)))
    newest: dict[str, int] = {}
    async for rec in db.review_chain.find({}, {"key": 1, "n": 1}):
        newest[rec["key"]] = max(newest.get(rec["key"], 0), int(rec["n"]))
    ids = [f"{k}:{n}" for k, n in newest.items()]
    for start in range(0, len(ids), READ_BATCH):
        found = await store.read("review_chain", ids[start : start + READ_BATCH])
        for rec in found.values():
            heads.append(("reviews", rec["key"], int(rec["n"]), review_hash(rec)))
    return heads


def anchor_event(anchor: dict[str, Any]) -> Event:
    return Event(
        event_id=f"anchor-{anchor['_id']}",
        type="change.anchored",
        key="chain:anchor",
        at=anchor["at"],
        changes=[f"{anchor['count']} chain heads anchored, root {anchor['root']}"],
        change=ChangeRef(anchor_root=anchor["root"], anchor_heads=anchor["count"]),
    )


def put_locked_object(target: AnchorTarget, name: str, body: bytes, at: datetime) -> dict[str, Any]:
    """Write `body` to S3 under Object Lock (COMPLIANCE) until `at` + retention."""
    import boto3  # only the services that anchor install it

    s3 = boto3.client("s3", region_name=target.region, endpoint_url=target.endpoint_url)
    until = at + timedelta(days=target.retention_days)
    key = f"{target.prefix}{name}.json"
    answer = s3.put_object(
        Bucket=target.bucket,
        Key=key,
        Body=body,
        ContentType="application/json",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
        ChecksumAlgorithm="SHA256",
    )
    return {
        "bucket": target.bucket,
        "key": key,
        "version_id": answer.get("VersionId"),
        "retain_until": until,
    }


def target_of(settings: Any) -> AnchorTarget | None:
    """The anchor bucket a service's settings name, if any."""
    if not getattr(settings, "anchor_bucket", None):
        return None
    return AnchorTarget(
        bucket=settings.anchor_bucket,
        prefix=settings.anchor_prefix,
        retention_days=settings.anchor_retention_days,
        region=settings.anchor_region,
        endpoint_url=settings.anchor_endpoint_url,
    )


def daily_name(at: datetime) -> str:
    return "daily-" + at.strftime("%Y-%m-%d")


async def anchor(
    db: Database,
    target: AnchorTarget | None = None,
    at: datetime | None = None,
    name: str | None = None,
) -> tuple[dict[str, Any], Event] | None:
    """Hash every chain head into an anchor; store it (and write it to S3); its event.
    None if an anchor of this `name` exists (the daily one, taken by another replica)."""
    import asyncio

    at = at or utcnow()
    name = name or at.strftime("%Y%m%dT%H%M%S") + f"{at.microsecond // 1000:03d}Z"
    if await db.chain_anchors.find_one({"_id": name}, {"_id": 1}) is not None:
        return None
    heads = await chain_heads(db)
    root = heads_root(heads)
    doc: dict[str, Any] = {
        "_id": name,
        "at": at,
        "root": root,
        "count": len(heads),
        # One document per head: FerretDB stores no nested arrays.
        "heads": [{"chain": c, "key": k, "n": n, "hash": h} for c, k, n, h in sorted(heads)],
        "s3": None,
    }
    if target is not None:
        body = json.dumps(
            {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in doc.items()},
            sort_keys=True,
        ).encode()
        try:
            doc["s3"] = await asyncio.to_thread(put_locked_object, target, name, body, at)
        except Exception as exc:  # botocore's errors: credentials, access, Object Lock off
            raise AnchorWriteFailed(
                f"writing anchor {name} to s3://{target.bucket}/{target.prefix} failed: {exc}"
            ) from exc
    if not await insert_unique(db.chain_anchors, doc):
        return None
    return doc, anchor_event(doc)


async def latest_anchor(db: Database) -> dict[str, Any] | None:
    found = await db.chain_anchors.find({}).sort("at", -1).limit(1).to_list(1)
    return found[0] if found else None
