"""Asking for sweeps (through the API): clear refusals, status of unknown sweeps; the\ncollector's port: probes and metrics only; the accounts file."""

from __future__ import annotations

from pathlib import Path

import pytest

from secmonkey.collector.settings import Settings
from secmonkey.common.documents import Account
from secmonkey.common.storage import Database
from tests.integration.collector.conftest import (
    add_accounts,
    random_account_ids,
    running,
    sweeps_api,
)

pytestmark = pytest.mark.integration


async def test_bad_sweep_requests_get_clear_answers_and_probes_answer(
    settings: Settings, db: Database
) -> None:
    known, unknown, disabled = random_account_ids(3)
    await add_accounts(
        db, [Account(id=known, name="k"), Account(id=disabled, name="d", enabled=False)]
    )
    async with running(settings) as client, sweeps_api(settings) as api:
        answer = await api.post("/api/v1/sweeps", json={"account_ids": [known, unknown, disabled]})
        assert answer.status_code == 422
        detail = answer.json()["detail"]
        assert f"unknown account {unknown}" in detail
        assert f"account {disabled} is disabled or not monitored" in detail
        assert known not in detail

        malformed = await api.post("/api/v1/sweeps", json={"account_ids": ["12345"]})
        assert malformed.status_code == 422
        bad_region = await api.post(
            "/api/v1/sweeps", json={"account_ids": [known], "regions": ["moon-1"]}
        )
        assert bad_region.status_code == 422
        made_up = await api.post(
            "/api/v1/sweeps", json={"account_ids": [known], "regions": ["us-moon-1"]}
        )
        assert made_up.status_code == 422 and "us-moon-1" in made_up.text

        missing = await api.get("/api/v1/sweeps/no-such-sweep")
        assert missing.status_code == 404 and "no-such-sweep" in missing.json()["detail"]

        # The collector's port: probes, metrics and who schedules; no sweeps.
        assert (await client.post("/sweeps", json={})).status_code == 404
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {
            "mongodb": "ok",
            "rabbitmq": "ok",
            f"consumer {settings.sweeps_queue}": "ok",
            f"consumer {settings.securityhub_queue}": "ok",  # the Security Hub export
        }
        metrics = (await client.get("/metrics")).text
        for name in (
            "secmonkey_collector_region_sweep_seconds",
            "secmonkey_collector_groups_collected_total",
            "secmonkey_collector_aws_errors_total",
        ):
            assert name in metrics
        scheduler = (await client.get("/scheduler")).json()
        assert scheduler["replica_id"] == settings.replica_id
        assert scheduler["scheduler_enabled"] is False and scheduler["leader"] is False

        accepted = await api.post("/api/v1/sweeps", json={})
        assert accepted.status_code == 202
        assert [s["account_id"] for s in accepted.json()["sweeps"]] == [known]
        listed = (await api.get("/api/v1/sweeps")).json()
        assert [s["sweep_id"] for s in listed] == [accepted.json()["sweeps"][0]["sweep_id"]]


async def test_the_accounts_file_is_upserted_at_start_and_bad_entries_are_left_out(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    good, edited, bad = random_account_ids(3)
    await add_accounts(db, [Account(id=edited, name="old name", labels=["keep"])])
    path = tmp_path / "accounts.yaml"
    path.write_text(
        f"""
accounts:
  - id: "{good}"
    name: good
    role_arn: arn:aws:iam::{good}:role/secmonkey-monitor
    external_id: external-id-of-good
    regions: [us-east-1]
  - id: "{edited}"
    name: new name
  - id: "{bad}"
    name: bad
    role_arn: not-an-arn
"""
    )
    async with running(settings.model_copy(update={"accounts_file": path})):
        pass
    docs = {d["_id"]: d for d in await db.accounts.find().to_list(None)}
    assert set(docs) == {good, edited}
    assert (
        Account.model_validate(docs[good]).role_arn == f"arn:aws:iam::{good}:role/secmonkey-monitor"
    )
    assert docs[good]["enabled"] is True and docs[good]["regions"] == ["us-east-1"]
    # The file names only `name` for this one: what it does not name is left alone.
    assert docs[edited]["name"] == "new name" and docs[edited]["labels"] == ["keep"]
