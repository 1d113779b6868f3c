"""Issues: filters, order, pages; justifying (auditor) and withdrawing; the report; the feed."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from secmonkey.common.severity import SEVERITY_RANK
from tests.integration.api import harness
from tests.support.estate import DEV, LEGACY, PROD, WEB

pytestmark = pytest.mark.integration


async def all_pages(api: httpx.AsyncClient, path: str, params: dict[str, str]) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        query = params | ({"cursor": cursor} if cursor else {})
        response = await api.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


async def test_open_issues_most_severe_first_and_filters(api: httpx.AsyncClient) -> None:
    issues = (await api.get("/api/v1/issues")).json()["items"]
    assert issues and all(i["status"] == "open" for i in issues)
    ranks = [SEVERITY_RANK[i["severity"]] for i in issues]
    assert ranks == sorted(ranks, reverse=True)
    legacy = [i for i in issues if i["group_id"] == LEGACY]
    assert any(i["rule_id"] == "internet-all-ports" for i in legacy)

    sample = legacy[0]
    by_rule = (await api.get("/api/v1/issues", params={"rule_id": sample["rule_id"]})).json()
    assert by_rule["items"] and {i["rule_id"] for i in by_rule["items"]} == {sample["rule_id"]}
    exact = (await api.get("/api/v1/issues", params={"severity": sample["severity"]})).json()
    assert {i["severity"] for i in exact["items"]} == {sample["severity"]}
    at_least = (await api.get("/api/v1/issues", params={"min_severity": "high"})).json()["items"]
    assert all(SEVERITY_RANK[i["severity"]] >= SEVERITY_RANK["high"] for i in at_least)
    assert {i["id"] for i in at_least} == {
        i["id"] for i in issues if SEVERITY_RANK[i["severity"]] >= SEVERITY_RANK["high"]
    }
    by_group = (await api.get("/api/v1/issues", params={"group_id": LEGACY})).json()["items"]
    assert {i["id"] for i in by_group} == {i["id"] for i in legacy}
    dev = (await api.get("/api/v1/issues", params={"account_id": DEV})).json()["items"]
    assert all(i["account_id"] == DEV for i in dev)
    west = (await api.get("/api/v1/issues", params={"region": "eu-west-1"})).json()["items"]
    assert {i["id"] for i in west} == {i["id"] for i in dev}


async def test_compliance_framework_filter(api: httpx.AsyncClient) -> None:
    issues = (await api.get("/api/v1/issues", params={"status": "all"})).json()["items"]
    tagged = [i for i in issues if i["compliance"]]
    if not tagged:
        pytest.fail("the auditor's default rules carry compliance tags; none were stored")
    tag = tagged[0]["compliance"][0]
    framework = tag.split(":")[0].split(" ")[0]
    body = (
        await api.get("/api/v1/issues", params={"status": "all", "compliance": framework})
    ).json()
    assert tagged[0]["id"] in {i["id"] for i in body["items"]}
    words = framework.lower()
    assert all(any(words in t.lower().split() for t in i["compliance"]) for i in body["items"])
    assert (await api.get("/api/v1/issues", params={"compliance": ".*"})).json()["items"] == []
    none = (await api.get("/api/v1/issues", params={"compliance": "no-such-framework"})).json()
    assert none["items"] == []


async def test_every_status_and_pages(api: httpx.AsyncClient) -> None:
    everything = await all_pages(api, "/api/v1/issues", {"status": "all", "limit": "2"})
    assert len({i["id"] for i in everything}) == len(everything)
    unpaged = (await api.get("/api/v1/issues", params={"status": "all", "limit": 500})).json()
    assert [i["id"] for i in everything] == [i["id"] for i in unpaged["items"]]
    web = [i for i in everything if i["group_id"] == WEB]
    assert web and all(i["status"] != "open" for i in web), "a deleted group has no open issue"


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"status": "closed"}, "query.status"),
        ({"severity": "urgent"}, "query.severity"),
        ({"rule_id": "$where"}, "query.rule_id"),
        ({"compliance": ""}, "query.compliance"),
        ({"cursor": "e30"}, "malformed cursor"),
    ],
)
async def test_bad_issue_filters(api: httpx.AsyncClient, params: dict[str, str], says: str) -> None:
    response = await api.get("/api/v1/issues", params=params)
    assert response.status_code == 422 and says in response.json()["detail"], response.text


async def test_one_issue(api: httpx.AsyncClient) -> None:
    issue = (await api.get("/api/v1/issues")).json()["items"][0]
    assert (await api.get(f"/api/v1/issues/{issue['id']}")).json() == issue
    missing = await api.get(f"/api/v1/issues/{'f' * 32}")
    assert missing.status_code == 404 and "no issue" in missing.json()["detail"]


# --- justifications (on a database of their own) ---------------------------------------------


@pytest_asyncio.fixture(scope="module")
async def own(mongo_url: str, amqp_url: str) -> AsyncIterator[tuple[FastAPI, dict[str, str]]]:
    name = await harness.fresh_estate(mongo_url)
    async with harness.running(harness.settings_for(mongo_url, amqp_url, name)) as app:
        made = {"admin": harness.ADMIN_KEY}
        async with harness.client_for(app) as admin:
            for role in ("viewer", "auditor"):
                body = {"name": f"jane {role}", "role": role}
                made[role] = (await admin.post("/api/v1/keys", json=body)).json()["key"]
        yield app, made
    await harness.drop(mongo_url, name)


async def test_justify_then_withdraw(own: tuple[FastAPI, dict[str, str]]) -> None:
    app, keys = own
    async with harness.client_for(app, keys["auditor"]) as auditor:
        issue = (await auditor.get("/api/v1/issues", params={"group_id": LEGACY})).json()["items"][
            0
        ]
        until = datetime.now(UTC) + timedelta(days=30)
        response = await auditor.put(
            f"/api/v1/issues/{issue['id']}/justification",
            json={
                "reason": "  legacy VPN concentrator, replacement in Q3 ",
                "until": until.isoformat(),
            },
        )
        assert response.status_code == 200, response.text
        justified = response.json()
        assert justified["status"] == "justified"
        assert justified["justification"]["by"] == "jane auditor"
        assert justified["justification"]["reason"] == "legacy VPN concentrator, replacement in Q3"
        assert datetime.fromisoformat(justified["justification"]["until"]) == until.replace(
            microsecond=until.microsecond // 1000 * 1000
        )
        listed = (await auditor.get("/api/v1/issues", params={"status": "justified"})).json()
        assert issue["id"] in {i["id"] for i in listed["items"]}
        report = (await auditor.get("/api/v1/report")).json()
        assert issue["id"] not in {i["id"] for i in report["issues"]}
        feed = (await auditor.get("/api/v1/events", params={"type": "issue.justified"})).json()
        assert feed["items"][0]["issue"]["issue_id"] == issue["id"]
        assert feed["items"][0]["group_id"] == LEGACY

        again = await auditor.put(
            f"/api/v1/issues/{issue['id']}/justification", json={"reason": "still accepted"}
        )
        assert again.status_code == 200 and again.json()["justification"]["until"] is None

        assert (
            await auditor.delete(f"/api/v1/issues/{issue['id']}/justification")
        ).status_code == 204
        reopened = (await auditor.get(f"/api/v1/issues/{issue['id']}")).json()
        assert reopened["status"] == "open" and reopened["justification"] is None
        second = await auditor.delete(f"/api/v1/issues/{issue['id']}/justification")
        assert second.status_code == 404 and "has no justification" in second.json()["detail"]


async def test_justifying_updates_the_groups_counters_at_once(
    own: tuple[FastAPI, dict[str, str]],
) -> None:
    """Group lists filter on `open_issues` / `max_severity_rank`: justifying an issue, or
    withdrawing its justification, shows there at once, not at the group's next change."""
    app, keys = own
    async with harness.client_for(app, keys["auditor"]) as auditor:

        async def counters() -> tuple[int, str | None]:
            group = (await auditor.get(f"/api/v1/groups/{LEGACY}")).json()
            return group["open_issues"], group["max_severity"]

        def expected(issues: list[dict[str, Any]]) -> tuple[int, str | None]:
            severities = [i["severity"] for i in issues]
            return len(issues), max(severities, key=SEVERITY_RANK.__getitem__, default=None)

        async def listed(**params: str) -> bool:
            body = (await auditor.get("/api/v1/groups", params=params | {"limit": "500"})).json()
            return LEGACY in {g["group_id"] for g in body["items"]}

        response = await auditor.get("/api/v1/issues", params={"group_id": LEGACY})
        open_issues = response.json()["items"]  # most severe first
        assert len(open_issues) >= 3
        top = open_issues[0]["severity"]
        assert SEVERITY_RANK[top] > SEVERITY_RANK[open_issues[-1]["severity"]]
        assert await counters() == expected(open_issues)
        assert await listed(min_severity=top) and await listed(has_issues="true")

        remaining = list(open_issues)
        for issue in open_issues:
            path = f"/api/v1/issues/{issue['id']}/justification"
            assert (await auditor.put(path, json={"reason": "lab network, no data"})).is_success
            remaining.remove(issue)
            assert await counters() == expected(remaining), f"after justifying {issue['rule_id']}"
        assert await counters() == (0, None)
        assert not await listed(min_severity=top) and not await listed(has_issues="true")
        assert await listed(has_issues="false")

        for issue in reversed(open_issues):
            path = f"/api/v1/issues/{issue['id']}/justification"
            assert (await auditor.delete(path)).status_code == 204
            remaining.append(issue)
            assert await counters() == expected(remaining), f"after withdrawing {issue['rule_id']}"
        assert await listed(min_severity=top) and await listed(has_issues="true")


async def test_bad_justifications(own: tuple[FastAPI, dict[str, str]]) -> None:
    app, keys = own
    async with harness.client_for(app, keys["auditor"]) as auditor:
        issues = (
            await auditor.get("/api/v1/issues", params={"status": "all", "limit": 500})
        ).json()
        open_issue = next(i for i in issues["items"] if i["status"] == "open")
        closed = next(i for i in issues["items"] if i["status"] in ("fixed", "deleted"))
        path = f"/api/v1/issues/{open_issue['id']}/justification"
        past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        expired = await auditor.put(path, json={"reason": "too late", "until": past})
        assert expired.status_code == 422 and "must be in the future" in expired.json()["detail"]
        short = await auditor.put(path, json={"reason": " x "})
        assert short.status_code == 422 and "body.reason" in short.json()["detail"]
        missing = await auditor.put(path, json={})
        assert missing.status_code == 422 and "body.reason" in missing.json()["detail"]
        unknown = await auditor.put(
            f"/api/v1/issues/{'a' * 32}/justification", json={"reason": "why not"}
        )
        assert unknown.status_code == 404
        conflict = await auditor.put(
            f"/api/v1/issues/{closed['id']}/justification", json={"reason": "no longer relevant"}
        )
        assert conflict.status_code == 409 and closed["status"] in conflict.json()["detail"]
    async with harness.client_for(app, keys["viewer"]) as viewer:
        assert (await viewer.put(path, json={"reason": "viewers cannot"})).status_code == 403


# --- the report --------------------------------------------------------------------------------


async def test_json_report_counts_and_orders(api: httpx.AsyncClient) -> None:
    report = (await api.get("/api/v1/report")).json()
    open_issues = await all_pages(api, "/api/v1/issues", {"status": "open", "limit": "100"})
    assert report["open_issues"] == len(open_issues) > 0
    assert {i["id"] for i in report["issues"]} == {i["id"] for i in open_issues}
    assert report["truncated"] is False
    assert sum(report["by_severity"].values()) == report["open_issues"]
    assert sum(r["total"] for r in report["by_account"]) == report["open_issues"]
    assert sum(r["total"] for r in report["by_rule"]) == report["open_issues"]
    for row in report["by_rule"]:
        assert row["total"] == sum(1 for i in open_issues if i["rule_id"] == row["name"])
    ranks = [SEVERITY_RANK[i["severity"]] for i in report["issues"]]
    assert ranks == sorted(ranks, reverse=True)
    limited = (await api.get("/api/v1/report", params={"limit": 1})).json()
    assert len(limited["issues"]) == 1 and limited["truncated"] is (report["open_issues"] > 1)
    # A few listed (a dashboard's) come from the summaries: the same first issues, in order.
    few = (await api.get("/api/v1/report", params={"limit": 3})).json()
    assert [i["id"] for i in few["issues"]] == [i["id"] for i in report["issues"][:3]]
    assert few["issues"] == report["issues"][:3]
    high = (await api.get("/api/v1/report", params={"min_severity": "high"})).json()
    at_least_high = [
        i for i in open_issues if SEVERITY_RANK[i["severity"]] >= SEVERITY_RANK["high"]
    ]
    assert high["open_issues"] == len(at_least_high)
    assert {i["id"] for i in high["issues"]} == {i["id"] for i in at_least_high}
    prod = (await api.get("/api/v1/report", params={"account_id": PROD})).json()
    assert {r["name"] for r in prod["by_account"]} <= {PROD}


async def test_csv_and_html_reports(api: httpx.AsyncClient) -> None:
    report = (await api.get("/api/v1/report")).json()
    response = await api.get("/api/v1/report", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == report["open_issues"]
    assert {r["issue_id"] for r in rows} == {i["id"] for i in report["issues"]}
    assert rows[0]["severity"] == report["issues"][0]["severity"]

    page = await api.get("/api/v1/report", params={"format": "html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<h1>secmonkey audit report</h1>" in page.text
    assert f"{report['open_issues']} open issue" in page.text
    assert "Legacy-Open" in page.text and "internet-all-ports" in page.text


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"format": "pdf"}, "query.format"),
        ({"min_severity": "huge"}, "query.min_severity"),
        ({"limit": "0"}, "query.limit"),
    ],
)
async def test_bad_report_requests(
    api: httpx.AsyncClient, params: dict[str, str], says: str
) -> None:
    response = await api.get("/api/v1/report", params=params)
    assert response.status_code == 422 and says in response.json()["detail"]


# --- the event feed ----------------------------------------------------------------------------


async def test_the_feed_has_the_history_and_filters(api: httpx.AsyncClient) -> None:
    events = await all_pages(api, "/api/v1/events", {"limit": "3"})
    ats = [e["at"] for e in events]
    assert [datetime.fromisoformat(a) for a in ats] == sorted(
        (datetime.fromisoformat(a) for a in ats), reverse=True
    )
    web = [e for e in events if e["group_id"] == WEB and e["type"].startswith("group.")]
    assert [e["type"] for e in reversed(web)] == [
        "group.created",
        "group.changed",
        "group.changed",
        "group.deleted",
    ]
    deleted = (await api.get("/api/v1/events", params={"type": "group.deleted"})).json()["items"]
    assert [e["group_id"] for e in deleted] == [WEB]
    several = (
        await api.get(
            "/api/v1/events", params=[("type", "group.created"), ("type", "group.deleted")]
        )
    ).json()["items"]
    assert {e["type"] for e in several} == {"group.created", "group.deleted"}
    dev = (await api.get("/api/v1/events", params={"account_id": DEV})).json()["items"]
    assert dev and all(e["account_id"] == DEV for e in dev)
    since = (
        await api.get("/api/v1/events", params={"since": web[1]["at"], "order": "asc"})
    ).json()["items"]
    assert since and all(e["at"] > web[1]["at"] for e in since)
    assert since[0]["at"] <= since[-1]["at"]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"type": "group.exploded"}, "query.type"),
        (
            {"since": "2026-03-05T00:00:00Z", "until": "2026-03-01T00:00:00Z"},
            "since is after until",
        ),
        ({"since": "noon"}, "query.since"),
        ({"order": "random"}, "query.order"),
        ({"cursor": "eyJhIjogMX0"}, "malformed cursor"),
    ],
)
async def test_bad_feed_requests(api: httpx.AsyncClient, params: dict[str, str], says: str) -> None:
    response = await api.get("/api/v1/events", params=params)
    assert response.status_code == 422 and says in response.json()["detail"]
