"""Failed sign-ins are limited per key and per client address, across replicas, and the
client address is believed from forwarded headers only through a trusted proxy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from secmonkey.common.storage import Database
from tests.security.auth_harness import api, client, new_key

pytestmark = pytest.mark.integration
LIMITS = {"auth_failures_per_key": 3, "auth_failures_per_address": 5}


async def test_bad_key_flood_is_rate_limited(
    mongo_url: str, amqp_url: str, db: Database, db_name: str
) -> None:
    async with api(mongo_url, amqp_url, db_name, **LIMITS) as app:
        valid = (await new_key(app, "viewer"))["key"]
        answers = []
        for n in range(6):  # a different wrong key each time: only the address limit applies
            async with client(app, f"smk_wrong-{n}-0000000000000000") as guesser:
                answers.append(await guesser.get("/api/v1/groups"))
        assert [a.status_code for a in answers] == [401] * 5 + [429]
        assert 0 < int(answers[-1].headers["Retry-After"]) <= 300
        assert "too many failed sign-ins" in answers[-1].json()["detail"]
        # a key that works is still served: a guesser cannot lock its owner out
        async with client(app, valid) as owner:
            assert (await owner.get("/api/v1/accounts")).status_code == 200

        # Another replica (its own process state, the same database) refuses at once.
        async with api(mongo_url, amqp_url, db_name, **LIMITS) as replica:
            async with client(replica, "smk_yet-another-wrong-key-000000") as guesser:
                again = await guesser.get("/api/v1/groups")
            assert again.status_code == 429 and "Retry-After" in again.headers

        async with client(app) as admin:
            log = await admin.get("/api/v1/audit-log", params={"action": "auth.failures_burst"})
        (burst,) = log.json()["items"]
        assert burst["target"] == "address 127.0.0.1" and burst["severity"] == "medium"
        assert await db.auth_failures.count_documents({}) >= 1


async def test_one_key_guessed_from_many_addresses_is_rate_limited(
    mongo_url: str, amqp_url: str, db: Database, db_name: str
) -> None:
    async with api(mongo_url, amqp_url, db_name, trusted_proxies="127.0.0.1/32", **LIMITS) as app:
        codes = []
        for n in range(5):  # through the (trusted) proxy, from five different addresses
            headers = {"X-Forwarded-For": f"198.51.100.{n + 1}"}
            async with client(app, "smk_the-same-wrong-key-0000000000", **headers) as guesser:
                codes.append((await guesser.get("/api/v1/groups")).status_code)
        assert codes == [401, 401, 401, 429, 429]
        stored = await db.auth_failures.find({"scope": "key"}).to_list()
        assert stored and all("the-same-wrong-key" not in str(d) for d in stored)


async def test_forwarded_header_ignored_from_untrusted_peer(
    mongo_url: str, amqp_url: str, db: Database, db_name: str
) -> None:
    # The peer (127.0.0.1) is not a trusted proxy: X-Forwarded-For and Forwarded are lies.
    async with api(mongo_url, amqp_url, db_name, trusted_proxies="10.0.0.0/8", **LIMITS) as app:
        codes = []
        for n in range(6):
            spoofed = {"X-Forwarded-For": f"203.0.113.{n + 1}", "Forwarded": f"for=192.0.2.{n}"}
            async with client(app, f"smk_wrong-{n}-0000000000000000", **spoofed) as guesser:
                codes.append((await guesser.get("/api/v1/groups")).status_code)
        assert codes == [401] * 5 + [429]  # every guess counted against the real peer
        async with client(app, **{"X-Forwarded-For": "203.0.113.9"}) as admin:
            assert (
                await admin.post("/api/v1/keys", json={"name": "ci", "role": "viewer"})
            ).is_success
            (entry,) = (
                await admin.get("/api/v1/audit-log", params={"action": "key.created"})
            ).json()["items"]
        assert entry["client"] == "127.0.0.1"

    # Through a trusted proxy the forwarded client is recorded instead.
    async with api(mongo_url, amqp_url, db_name, trusted_proxies="127.0.0.0/8") as app:
        async with client(app, **{"X-Forwarded-For": "203.0.113.9, 127.0.0.5"}) as admin:
            created = await admin.post("/api/v1/keys", json={"name": "ci2", "role": "viewer"})
            log = await admin.get("/api/v1/audit-log", params={"target": created.json()["id"]})
        assert log.json()["items"][0]["client"] == "203.0.113.9"


async def test_expired_key_is_refused(
    mongo_url: str, amqp_url: str, db: Database, db_name: str
) -> None:
    async with api(mongo_url, amqp_url, db_name) as app:
        async with client(app) as admin:
            past = await admin.post(
                "/api/v1/keys",
                json={"name": "old", "role": "viewer", "expires_at": "2020-01-01T00:00:00Z"},
            )
            assert past.status_code == 422 and "future" in past.text
        soon = datetime.now(UTC) + timedelta(seconds=2)
        created = await new_key(app, "viewer", expires_at=soon.isoformat())
        assert created["expires_at"] is not None, created
        async with client(app, created["key"]) as holder:
            assert (await holder.get("/api/v1/accounts")).status_code == 200
            await asyncio.sleep(2.5)
            expired = await holder.get("/api/v1/accounts")
        assert expired.status_code == 401 and "expired" in expired.json()["detail"]
        async with client(app) as admin:
            listed = {k["id"]: k for k in (await admin.get("/api/v1/keys")).json()}
        assert listed[created["id"]]["expires_at"] is not None
