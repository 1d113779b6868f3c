"""Credentials are sealed at rest, the external ID is write-only, keys rotate, production
refuses to start without its keys, and no log line shows a key."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError
from pymongo import MongoClient

from secmonkey.api.auth import ensure_key
from secmonkey.api.settings import Settings as ApiSettings
from secmonkey.common import sealed
from secmonkey.common.accounts import monitored_accounts
from secmonkey.common.storage import Database
from secmonkey.notifier.routing import Routes
from secmonkey.notifier.settings import Settings as NotifierSettings
from tests.security.auth_harness import api, client, new_key

pytestmark = pytest.mark.integration
SLACK_URL = "https://hooks.slack.example.com/services/T000/B000/PLAINTEXT-SLACK-TOKEN"
GENERIC_URL = "https://siem.example.com/in/PLAINTEXT-GENERIC-PATH"
HMAC_SECRET = "plaintext-hmac-secret-0123456789"
EXTERNAL_ID = "plaintext-external-id-4242"
ACCOUNT = "123412341234"


async def _store_credentials(app: object) -> None:
    async with client(app) as admin:  # type: ignore[arg-type]
        for body in (
            {"name": "slack", "channel": {"type": "slack", "url": SLACK_URL}},
            {
                "name": "siem",
                "channel": {"type": "generic", "url": GENERIC_URL, "secret": HMAC_SECRET},
                "filters": {"event_types": ["admin.*"]},
            },
        ):
            answer = await admin.post("/api/v1/subscriptions", json=body)
            assert answer.status_code == 201, answer.text
        account = {
            "id": ACCOUNT,
            "name": "payments",
            "role_arn": f"arn:aws:iam::{ACCOUNT}:role/secmonkey",
            "external_id": EXTERNAL_ID,
        }
        assert (await admin.post("/api/v1/accounts", json=account)).status_code == 201


async def test_database_holds_no_plaintext_webhook_url(
    mongo_url: str, amqp_url: str, db: Database, db_name: str
) -> None:
    async with api(mongo_url, amqp_url, db_name) as app:
        await _store_credentials(app)
    everything = ""
    for name in await db.list_collection_names():
        everything += json.dumps(await db[name].find({}).to_list(), default=str)
    for plaintext in ("PLAINTEXT-SLACK-TOKEN", "PLAINTEXT-GENERIC-PATH", HMAC_SECRET, EXTERNAL_ID):
        assert plaintext not in everything
    stored = await db.subscriptions.find({}).to_list()
    assert all(s["channel"]["url"].startswith("fernet:") for s in stored)

    # The notifier opens them to deliver; the collector opens the external ID to assume the role.
    routes = Routes(db, ttl=0)
    opened = [await routes.subscription(str(doc["_id"])) for doc in stored]
    subscriptions = {s.name: s for s in opened if s is not None}
    assert subscriptions["slack"].channel.url == SLACK_URL
    assert subscriptions["siem"].channel.secret == HMAC_SECRET
    (account,) = [a for a in await monitored_accounts(db) if a.id == ACCOUNT]
    assert account.external_id == EXTERNAL_ID


async def test_viewer_cannot_read_external_id(
    mongo_url: str, amqp_url: str, db: Database, db_name: str
) -> None:
    async with api(mongo_url, amqp_url, db_name) as app:
        await _store_credentials(app)
        viewer = (await new_key(app, "viewer"))["key"]
        for key in (viewer, None):
            async with client(app, key) if key else client(app) as reader:
                listed = (await reader.get("/api/v1/accounts")).json()
                one = (await reader.get(f"/api/v1/accounts/{ACCOUNT}")).json()
            for answer in (listed[0], one):
                assert "external_id" not in answer and answer["external_id_set"] is True
                assert EXTERNAL_ID not in json.dumps(answer)
        async with client(app) as admin:  # a PUT without it keeps the one stored
            kept = await admin.put(f"/api/v1/accounts/{ACCOUNT}", json={"name": "payments-eu"})
            assert kept.json()["external_id_set"] is True
            log = (await admin.get("/api/v1/audit-log", params={"target": ACCOUNT})).json()
        assert EXTERNAL_ID not in json.dumps(log)  # before/after in the audit log: redacted
    (account,) = [a for a in await monitored_accounts(db) if a.id == ACCOUNT]
    assert account.external_id == EXTERNAL_ID


def test_rotate_secrets_reseals_everything_under_the_first_key(mongo_url: str) -> None:
    name = f"test_rotate_{os.urandom(5).hex()}"
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    old_ring = sealed.Keyring([old])
    mongo: MongoClient[dict[str, object]] = MongoClient(mongo_url)
    try:
        db = mongo[name]
        db.subscriptions.insert_many(
            [
                {  # written before sealing existed: plaintext
                    "_id": "legacy",
                    "name": "legacy",
                    "channel": {"type": "slack", "url": SLACK_URL},
                },
                {
                    "_id": "old",
                    "name": "old",
                    "channel": {
                        "type": "generic",
                        "url": old_ring.seal(GENERIC_URL),
                        "secret": old_ring.seal(HMAC_SECRET),
                    },
                },
            ]
        )
        db.accounts.insert_one({"_id": ACCOUNT, "name": "x", "external_id": EXTERNAL_ID})
        env = os.environ | {
            "SECMONKEY_MONGO_URL": mongo_url,
            "SECMONKEY_MONGO_DB": name,
            "SECMONKEY_ENCRYPTION_KEYS": f"{new},{old}",
        }
        cli = Path(sys.executable).parent / "secmonkey"
        done = subprocess.run(  # noqa: S603
            [str(cli), "admin", "rotate-secrets"], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "subscriptions: 3 re-sealed" in done.stdout
        assert "accounts: 1 re-sealed" in done.stdout

        only_new = sealed.Keyring([new])  # the old key can now be dropped
        legacy = db.subscriptions.find_one({"_id": "legacy"})
        resealed = db.subscriptions.find_one({"_id": "old"})
        account = db.accounts.find_one({"_id": ACCOUNT})
        assert legacy and resealed and account
        assert only_new.open(str(legacy["channel"]["url"])) == SLACK_URL  # type: ignore[index]
        assert only_new.open(str(resealed["channel"]["secret"])) == HMAC_SECRET  # type: ignore[index]
        assert only_new.open(str(account["external_id"])) == EXTERNAL_ID
        again = subprocess.run(  # noqa: S603
            [str(cli), "admin", "rotate-secrets"], env=env, capture_output=True, text=True
        )
        assert "subscriptions: 0 re-sealed, 3 already under the first key" in again.stdout
    finally:
        mongo.drop_database(name)
        mongo.close()


def test_production_refuses_to_start_without_its_keys() -> None:
    production = {"environment": "production", "amqp_url": "amqp://api:pw@rabbit:5672/"}
    key = Fernet.generate_key().decode()
    with pytest.raises(ValidationError, match="SECMONKEY_ENCRYPTION_KEYS is required"):
        ApiSettings(**production, console_secret="c" * 40)
    with pytest.raises(ValidationError, match="SECMONKEY_CONSOLE_SECRET is required"):
        ApiSettings(**production, encryption_keys=key)
    with pytest.raises(ValidationError, match="SECMONKEY_ENCRYPTION_KEYS is required"):
        NotifierSettings(**production)
    with pytest.raises(ValidationError, match="not a Fernet key"):
        ApiSettings(environment="test", encryption_keys="not-a-key")
    assert ApiSettings(**production, console_secret="c" * 40, encryption_keys=key)
    # development and test use a key derived from a fixed string (never accepted in production)
    assert sealed.keyring_of(None, "test").open(
        sealed.Keyring([sealed.development_key()]).seal("x")
    )


async def test_bootstrap_key_log_line_shows_no_key_characters(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    key = "smk_Q7zX9vLwK2mPa8Rt-never-in-a-log-1234"
    with caplog.at_level(logging.INFO, logger="secmonkey.api.auth"):
        assert await ensure_key(db, key, name="bootstrap", role="admin")
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "bootstrap" in logged and key[4:9] not in logged and key[:9] not in logged
