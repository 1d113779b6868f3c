"""The group page shows each rule's use from VPC flow logs: status, last use, a 90-day
sparkline of hits and the top sources. If this fails, the page hides what the flow logs
said, or the collector's summary breaks the page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from secmonkey.collector.flowlogs import summary
from secmonkey.collector.flowlogs.tally import RuleDay
from secmonkey.common.item_keys import item_key
from secmonkey.common.storage import Database
from tests.integration.web.inprocess import browser_like, running, sign_in
from tests.support import estate
from tests.support.estate import EAST, PROD, WEB

pytestmark = pytest.mark.integration
HTTPS = "ingress tcp/443 from 0.0.0.0/0"


async def test_group_page_shows_rule_usage_with_a_sparkline(
    mongo_url: str, amqp_url: str, db: Database, db_name: str
) -> None:
    await estate.CONSOLE.build(db)
    keys = await estate.keys(db)
    now = datetime.now(UTC).replace(microsecond=0)
    state = summary.new_rule_state(HTTPS)
    for back, hits in ((3, 40), (1, 10)):
        day = now - timedelta(days=back)
        tally = RuleDay(hits=hits, last=int(day.timestamp()), sources={"198.51.100.7": hits})
        summary.merge_rule(state, summary.epoch_day(day), tally)
    doc: dict[str, Any] = {
        "_id": item_key(PROD, EAST, WEB),
        "account_id": PROD,
        "region": EAST,
        "as_of": now,
        "interfaces": 1,
        "uncovered": [],
        "covered_since": now - timedelta(days=45),
        "batches": [],
        "rules": [summary.present(state, now, now - timedelta(days=45))],
    }
    await db.rule_usage_summary.insert_one(doc)
    async with running(mongo_url, amqp_url, db_name) as app, browser_like(app) as client:
        await sign_in(client, keys["viewer"])
        page = await client.get(f"/console/groups/{WEB}")
    assert page.status_code == 200, page.text
    assert "Rule usage (VPC flow logs)" in page.text
    assert "<code>ingress tcp/443 from 0.0.0.0/0</code>" in page.text
    assert "usage-used" in page.text and "198.51.100.7</code> (50)" in page.text
    assert "█" in page.text and "▂" in page.text  # 40 hits and 10 hits three days apart
