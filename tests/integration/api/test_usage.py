"""`GET /groups/{id}/usage` and `secmonkey usage`: what an operator sees of a rule's use.

If this fails, the group page and the CLI show no usage, or a summary the collector
wrote in a shape the API cannot read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from rich.console import Console

from secmonkey.client import models as m
from secmonkey.client.cli.usage import render_usage
from secmonkey.collector.flowlogs import summary
from secmonkey.collector.flowlogs.tally import RuleDay
from secmonkey.common import storage
from secmonkey.common.item_keys import item_key
from tests.support.estate import DB, EAST, LEGACY, PROD

pytestmark = pytest.mark.integration
RULE = "ingress tcp/5432 from 10.0.0.0/16"


@pytest_asyncio.fixture
async def usage_of_db(mongo_url: str, estate_db_name: str) -> AsyncIterator[datetime]:
    """The collector's summary of the DB group: one rule used by two sources yesterday."""
    now = datetime.now(UTC).replace(microsecond=0)
    yesterday = now - timedelta(days=1)
    state = summary.new_rule_state(RULE)
    summary.merge_rule(
        state,
        summary.epoch_day(yesterday),
        RuleDay(hits=7, last=int(yesterday.timestamp()), sources={"10.0.3.4": 5, "10.0.9.9": 2}),
    )
    key = item_key(PROD, EAST, DB)
    doc = {
        "_id": key,
        "account_id": PROD,
        "region": EAST,
        "as_of": now,
        "interfaces": 2,
        "uncovered": [],
        "covered_since": now - timedelta(days=40),
        "batches": ["b1"],
        "rules": [summary.present(state, now, now - timedelta(days=40))],
    }
    client = storage.connect(mongo_url)
    await client[estate_db_name].rule_usage_summary.replace_one({"_id": key}, doc, upsert=True)
    yield yesterday
    await client[estate_db_name].rule_usage_summary.delete_one({"_id": key})
    await client.close()


async def test_usage_shows_last_use_hits_per_day_and_sources(
    api: httpx.AsyncClient, usage_of_db: datetime
) -> None:
    response = await api.get(f"/api/v1/groups/{DB}/usage")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["read"] is True and body["interfaces"] == 2
    (rule,) = body["rules"]
    assert rule["rule"] == RULE and rule["status"] == "used"
    assert datetime.fromisoformat(rule["last_used"]) == usage_of_db
    assert rule["hits"] == 7 and rule["distinct_sources"] == 2 and not rule["approximate"]
    assert rule["days"] == [{"day": f"{usage_of_db:%Y-%m-%d}", "hits": 7}]
    assert rule["top_sources"][0] == {"source": "10.0.3.4", "hits": 5}
    assert rule["networks"] == [
        {"source": "10.0.3.0/24", "hits": 5},
        {"source": "10.0.9.0/24", "hits": 2},
    ]

    console = Console(record=True, width=200)
    render_usage(console, m.GroupUsage.model_validate(body))
    text = console.export_text()
    assert RULE in text and "used" in text and "10.0.3.4" in text


async def test_usage_of_a_group_never_read_and_of_an_unknown_group(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get(f"/api/v1/groups/{LEGACY}/usage")
    assert response.status_code == 200 and response.json()["read"] is False
    response = await api.get("/api/v1/groups/sg-0123456789abcdef0/usage")
    assert response.status_code == 404
