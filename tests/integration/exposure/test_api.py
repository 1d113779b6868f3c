"""What an operator sees of exposure: `GET /api/v1/exposure` with its filters, the group
detail, the report's exposure section and `secmonkey exposure --port 22`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from secmonkey.api.auth import create_key
from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.client.cli import main
from secmonkey.common.storage import Database
from tests.integration.api import harness
from tests.integration.exposure.estate import ACCOUNT, REGION, build, clients, sweep
from tests.integration.web.inprocess import browser_like, running, sign_in
from tests.support.servers import MotoServer

pytestmark = pytest.mark.integration


async def test_exposure_api_filters_group_page_report_and_cli(
    db: Database,
    db_name: str,
    mongo_url: str,
    amqp_url: str,
    moto: MotoServer,
    aws_env: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = clients(moto)
    estate = build(client)
    auditor = Auditor(db, RulesConfig())
    for batch in sweep(client, "s1"):
        await auditor.handle(batch)

    server = harness.LiveServer(harness.settings_for(mongo_url, amqp_url, db_name)).start()
    try:
        headers = {"Authorization": f"Bearer {harness.ADMIN_KEY}"}

        def get(path: str, **params: Any) -> httpx.Response:
            return httpx.get(
                f"{server.url}/api/v1{path}", params=params, headers=headers, timeout=30
            )

        def rows(**params: Any) -> set[tuple[str, str, str]]:
            answer = get("/exposure", **params)
            assert answer.status_code == 200, answer.text
            return {(e["resource_id"], e["address"], e["ports"]) for e in answer.json()["items"]}

        assert rows(port=22) == {(estate.i1, estate.eip, "tcp/22")}
        assert rows(port=443, account_id=ACCOUNT, region=REGION) == {
            (estate.i1, estate.eip, "tcp/443")
        }
        assert rows(port=3389) == set()
        assert rows(resource_type="instance") == {
            (estate.i1, estate.eip, "tcp/22"),
            (estate.i1, estate.eip, "tcp/443"),
        }
        assert rows(resource_type="load_balancer") == set()
        assert rows(account_id="999999999999") == set()
        assert get("/exposure", port=70000).status_code == 422
        assert get("/exposure", resource_type="router").status_code == 422

        detail = get(f"/groups/{estate.web}").json()
        endpoints = detail["attachments"]["endpoints"]
        assert {(e["resource_id"], e["address"]) for e in endpoints} == {(estate.i1, estate.eip)}

        report = get("/report", format="json").json()
        assert report["exposed_endpoints"] == 2
        assert {e["resource_id"] for e in report["exposure"]} == {estate.i1}
        html = get("/report", format="html").text
        assert "2 endpoints reachable from the internet" in html and estate.eip in html

        monkeypatch.setenv("SECMONKEY_URL", server.url)
        monkeypatch.setenv("SECMONKEY_API_KEY", harness.ADMIN_KEY)
        monkeypatch.setenv("COLUMNS", "250")
        capsys.readouterr()
        assert main(["exposure", "--port", "22"]) == 0
        out = capsys.readouterr().out
        assert "reachable from the internet on port 22" in out
        assert estate.i1 in out and estate.eip in out and "tcp/22" in out
        assert "tcp/443" not in out
    finally:
        server.stop()


async def test_the_console_group_page_lists_the_exposed_endpoints(
    db: Database, db_name: str, mongo_url: str, amqp_url: str, moto: MotoServer, aws_env: None
) -> None:
    client = clients(moto)
    estate = build(client)
    auditor = Auditor(db, RulesConfig())
    for batch in sweep(client, "s1"):
        await auditor.handle(batch)
    _, key = await create_key(db, "viewer person", "viewer")
    async with running(mongo_url, amqp_url, db_name) as app, browser_like(app) as browser:
        assert (await sign_in(browser, key)).status_code == 303
        page = await browser.get(
            f"/console/groups/{estate.web}", params={"account_id": ACCOUNT, "region": REGION}
        )
        assert page.status_code == 200, page.text
        assert "Exposed endpoints" in page.text
        assert (
            f"{estate.i1} ({estate.eip}) tcp/22 via {estate.public_table}/{estate.igw}" in page.text
        )
        assert estate.i2 not in page.text.split("Exposed endpoints")[1]
