"""Filing each group's exposed endpoints for the API (`exposures`, one document per
endpoint, rule and port range, so `GET /api/v1/exposure?port=22` is one indexed find).

`exposure_state` keeps each group's digest and instant: a group is refiled only when what
it exposes changed, and never from an observation older than the one filed. Refiling is
delete-then-insert under the group's key and the state is written last, so a crash in
between is repaired by the next batch (the digest still differs).
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

from secmonkey.common.canonical import GroupSnapshot
from secmonkey.common.dates import aware, to_millis
from secmonkey.common.storage import Database
from secmonkey.common.topology import endpoints_digest


def endpoint_docs(
    key: str, account_id: str, region: str, snapshot: GroupSnapshot, at: datetime
) -> list[dict[str, Any]]:
    docs = []
    for n, e in enumerate(snapshot.attachments.endpoints or []):
        ranges = e.port_ranges or [(0, 65535)]
        for m, (low, high) in enumerate(ranges):
            version = 6 if ":" in e.address and _is_ip(e.address) else 4
            docs.append(
                {
                    "_id": f"{key}|{n}|{m}",
                    "key": key,
                    "account_id": account_id,
                    "region": region,
                    "group_id": snapshot.config.group_id,
                    "group_name": snapshot.config.name,
                    "vpc_id": snapshot.config.vpc_id,
                    "resource_type": e.resource_type,
                    "resource_id": e.resource_id,
                    "interface_id": e.interface_id,
                    "address": e.address,
                    "ip_version": version,
                    "protocol": e.protocol,
                    "from_port": low,
                    "to_port": high,
                    "ports": e.ports_text(),
                    "rule_text": e.rule_text,
                    "route": e.route,
                    "nacl": e.nacl,
                    "text": e.text(),
                    "observed_at": at,
                }
            )
    return docs


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class EndpointFiler:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def file(
        self, snapshots: dict[str, GroupSnapshot], account_id: str, region: str, at: datetime
    ) -> int:
        """Refile the groups whose endpoints changed; how many were refiled."""
        at = to_millis(at)
        keys = list(snapshots)
        state = {
            doc["_id"]: doc async for doc in self.db.exposure_state.find({"_id": {"$in": keys}})
        }
        refiled = 0
        for key, snapshot in snapshots.items():
            digest = endpoints_digest(snapshot.attachments.endpoints or [])
            stored = state.get(key)
            if stored is not None and (
                stored.get("digest") == digest or aware(stored["observed_at"]) > at
            ):
                continue
            await self.db.exposures.delete_many({"key": key})
            docs = endpoint_docs(key, account_id, region, snapshot, at)
            if docs:
                await self.db.exposures.insert_many(docs)
            await self.db.exposure_state.replace_one(
                {"_id": key},
                {"digest": digest, "observed_at": at, "account_id": account_id},
                upsert=True,
            )
            refiled += 1
        return refiled

    async def forget(self, keys: list[str]) -> None:
        await self.db.exposures.delete_many({"key": {"$in": keys}})
        await self.db.exposure_state.delete_many({"_id": {"$in": keys}})
