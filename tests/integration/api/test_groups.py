"""Listing, filtering, resolving and showing groups, and refusing bad input clearly."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from tests.support.estate import (
    BASTION,
    DATABASE,
    DB,
    DEV,
    EAST,
    LEGACY,
    PROD,
    TIMES,
    UNKNOWN,
    WEB,
    WEST,
)

pytestmark = pytest.mark.integration


async def ids(api: httpx.AsyncClient, **params: str) -> set[str]:
    response = await api.get("/api/v1/groups", params=params)
    assert response.status_code == 200, response.text
    return {g["group_id"] for g in response.json()["items"]}


async def test_list_filters(api: httpx.AsyncClient) -> None:
    assert await ids(api) == {DB, LEGACY, BASTION}  # active by default
    assert await ids(api, state="deleted") == {WEB}
    assert await ids(api, state="all") == {WEB, DB, LEGACY, BASTION}
    assert await ids(api, account_id=DEV) == {BASTION}
    assert await ids(api, account_id=PROD, region=EAST, state="all") == {WEB, DB, LEGACY}
    assert await ids(api, region=WEST) == {BASTION}
    assert await ids(api, vpc_id="vpc-0bbb2222") == {BASTION}
    assert await ids(api, name="LEGACY") == {LEGACY}  # prefix, any case
    assert await ids(api, name="orders-d") == {DB}
    assert await ids(api, name="zzz") == set()
    with_issues = await ids(api, has_issues="true")
    assert LEGACY in with_issues
    assert await ids(api, has_issues="false") == {DB, LEGACY, BASTION} - with_issues
    assert LEGACY in await ids(api, min_severity="medium")


async def test_list_shows_what_an_operator_needs(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/v1/groups", params={"state": "all"})).json()
    web = next(g for g in body["items"] if g["group_id"] == WEB)
    assert web["state"] == "deleted"
    assert datetime.fromisoformat(web["deleted_at"]) == TIMES[3]
    assert datetime.fromisoformat(web["first_seen"]) == TIMES[0]
    db = next(g for g in body["items"] if g["group_id"] == DB)
    assert db["name"] == "orders-db" and db["account_id"] == PROD and db["region"] == EAST
    assert db["rule_count"] == len(DATABASE.rules)
    assert db["attached"] is True and db["public_ip"] is False


async def test_pages_cover_everything_once(api: httpx.AsyncClient) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        params = {"state": "all", "limit": "1"} | ({"cursor": cursor} if cursor else {})
        body = (await api.get("/api/v1/groups", params=params)).json()
        seen += [g["group_id"] for g in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted({WEB, DB, LEGACY, BASTION})


async def test_resolve_names_ids_across_accounts_including_deleted(api: httpx.AsyncClient) -> None:
    response = await api.get(
        "/api/v1/groups/resolve", params={"ids": f"{WEB}, {BASTION},{UNKNOWN},{WEB}"}
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["group_id"] for r in results] == [WEB, BASTION, UNKNOWN]  # order kept, deduplicated
    web, bastion, unknown = results
    assert web["found"] and web["matches"][0]["state"] == "deleted"
    assert web["matches"][0]["name"] == "web" and web["matches"][0]["account_id"] == PROD
    assert bastion["matches"][0] | {"deleted_at": None} == bastion["matches"][0]
    assert bastion["matches"][0]["account_id"] == DEV
    assert bastion["matches"][0]["region"] == WEST
    assert bastion["matches"][0]["vpc_id"] == "vpc-0bbb2222"
    assert unknown == {"group_id": UNKNOWN, "found": False, "matches": []}


@pytest.mark.parametrize(
    ("ids_param", "says"),
    [
        ("", "query.ids"),
        (" , ", "at least one"),
        ("sg-123,web", "not security group IDs: web"),
        (",".join(f"sg-{n:08x}" for n in range(101)), "at most 100"),
    ],
)
async def test_resolve_refuses_bad_ids(api: httpx.AsyncClient, ids_param: str, says: str) -> None:
    response = await api.get("/api/v1/groups/resolve", params={"ids": ids_param})
    assert response.status_code == 422 and says in response.json()["detail"]


async def test_show_a_group_with_rules_attachments_and_issues(api: httpx.AsyncClient) -> None:
    response = await api.get(f"/api/v1/groups/{LEGACY}")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Legacy-Open" and body["state"] == "active"
    assert [r["text"] for r in body["rules"]] == [r.text() for r in body_rules(body)]
    assert body["attachments"]["interface_count"] == 0 and body["attached"] is False
    assert body["issues"], "a group open to the internet on every port has issues"
    assert all(i["status"] in ("open", "justified") for i in body["issues"])
    assert body["open_issues"] == sum(1 for i in body["issues"] if i["status"] == "open")
    ranks = [
        ("info", "low", "medium", "high", "critical").index(i["severity"]) for i in body["issues"]
    ]
    assert ranks == sorted(ranks, reverse=True)


def body_rules(body: dict[str, object]) -> list:  # type: ignore[type-arg]
    from secmonkey.common.canonical import CanonicalGroup

    return CanonicalGroup.model_validate(body["config"]).rules


async def test_show_narrowed_by_account_and_region(api: httpx.AsyncClient) -> None:
    ok = await api.get(f"/api/v1/groups/{DB}", params={"account_id": PROD, "region": EAST})
    assert ok.status_code == 200 and ok.json()["key"] == f"aws:{PROD}:{EAST}:{DB}"
    wrong = await api.get(f"/api/v1/groups/{DB}", params={"account_id": DEV, "region": EAST})
    assert wrong.status_code == 404
    assert (
        wrong.json()["detail"]
        == f"no security group {DB} is known in account {DEV} and region {EAST}"
    )


async def test_unknown_and_malformed_group_ids(api: httpx.AsyncClient) -> None:
    unknown = await api.get(f"/api/v1/groups/{UNKNOWN}")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json()["detail"] == f"no security group {UNKNOWN} is known"
    malformed = await api.get("/api/v1/groups/web-server")
    assert malformed.status_code == 422 and "path.group_id" in malformed.json()["detail"]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"state": "gone"}, "query.state"),
        ({"limit": "0"}, "query.limit"),
        ({"limit": "501"}, "query.limit"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "malformed cursor"),
        ({"account_id": "1234"}, "query.account_id"),
        ({"region": "moon"}, "query.region"),
        ({"min_severity": "urgent"}, "query.min_severity"),
        ({"has_issues": "maybe"}, "query.has_issues"),
        ({"vpc_id": "{$ne: 1}"}, "query.vpc_id"),
    ],
)
async def test_list_refuses_bad_filters(
    api: httpx.AsyncClient, params: dict[str, str], says: str
) -> None:
    response = await api.get("/api/v1/groups", params=params)
    assert response.status_code == 422 and says in response.json()["detail"], response.text


async def test_operator_looking_input_is_matched_literally(api: httpx.AsyncClient) -> None:
    # A name prefix is a plain string compared in an index range, never an operator or regex.
    assert await ids(api, name='{"$gt": ""}') == set()
    assert await ids(api, name=".*") == set()
