"""`at` and `diff` across a create → change → change → delete history (the `web` group)."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from tests.support.estate import EAST, PROD, TIMES, WEB, WEB_V1, WEB_V2, WEB_V3

pytestmark = pytest.mark.integration
HOUR = timedelta(hours=1)


def texts(body: dict[str, object]) -> list[str]:
    return [r["text"] for r in body["rules"]]  # type: ignore[attr-defined, index]


async def test_revisions_newest_first(api: httpx.AsyncClient) -> None:
    body = (await api.get(f"/api/v1/groups/{WEB}/revisions")).json()
    assert [r["seq"] for r in body["items"]] == [4, 3, 2, 1]
    assert [r["change_type"] for r in body["items"]] == ["deleted", "changed", "changed", "created"]
    assert [datetime.fromisoformat(r["observed_at"]) for r in body["items"]] == TIMES[::-1]
    assert body["next_cursor"] is None
    first = (await api.get(f"/api/v1/groups/{WEB}/revisions", params={"limit": 3})).json()
    rest = (
        await api.get(
            f"/api/v1/groups/{WEB}/revisions", params={"limit": 3, "cursor": first["next_cursor"]}
        )
    ).json()
    assert [r["seq"] for r in first["items"] + rest["items"]] == [4, 3, 2, 1]


async def test_one_revision(api: httpx.AsyncClient) -> None:
    body = (await api.get(f"/api/v1/groups/{WEB}/revisions/2")).json()
    assert body["seq"] == 2 and body["fingerprint"] == WEB_V2.fingerprint()
    assert texts(body) == [r.text() for r in WEB_V2.rules]
    missing = await api.get(f"/api/v1/groups/{WEB}/revisions/9")
    assert missing.status_code == 404 and "1 to 4" in missing.json()["detail"]
    assert (await api.get(f"/api/v1/groups/{WEB}/revisions/0")).status_code == 422


@pytest.mark.parametrize(
    ("instant", "seq", "config"),
    [
        (TIMES[0], 1, WEB_V1),
        (TIMES[0] + HOUR, 1, WEB_V1),
        (TIMES[1], 2, WEB_V2),
        (TIMES[2] + HOUR, 3, WEB_V3),
        (TIMES[3] - HOUR, 3, WEB_V3),
    ],
)
async def test_at_returns_the_configuration_in_force(
    api: httpx.AsyncClient, instant: datetime, seq: int, config: object
) -> None:
    response = await api.get(f"/api/v1/groups/{WEB}/at", params={"time": instant.isoformat()})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["seq"] == seq
    assert body["fingerprint"] == config.fingerprint()  # type: ignore[attr-defined]
    assert texts(body) == [r.text() for r in config.rules]  # type: ignore[attr-defined]
    assert datetime.fromisoformat(body["observed_at"]) == TIMES[seq - 1]
    assert datetime.fromisoformat(body["valid_until"]) == TIMES[seq]


async def test_at_before_creation_and_after_deletion_is_404(api: httpx.AsyncClient) -> None:
    before = await api.get(
        f"/api/v1/groups/{WEB}/at", params={"time": (TIMES[0] - HOUR).isoformat()}
    )
    assert before.status_code == 404 and "did not exist yet" in before.json()["detail"]
    after = await api.get(
        f"/api/v1/groups/{WEB}/at", params={"time": (TIMES[3] + HOUR).isoformat()}
    )
    assert after.status_code == 404 and "deleted at" in after.json()["detail"]


async def test_at_accepts_offsets_naive_utc_and_the_item_key_parts(api: httpx.AsyncClient) -> None:
    instant = TIMES[1] + HOUR
    for text in (
        instant.isoformat(),
        instant.replace(tzinfo=None).isoformat(),  # no offset: UTC
        instant.astimezone(datetime.now().astimezone().tzinfo).isoformat(),
    ):
        body = (
            await api.get(
                f"/api/v1/groups/{WEB}/at",
                params={"time": text, "account_id": PROD, "region": EAST},
            )
        ).json()
        assert body["seq"] == 2, text
    bad = await api.get(f"/api/v1/groups/{WEB}/at", params={"time": "last tuesday"})
    assert bad.status_code == 422 and "query.time" in bad.json()["detail"]


async def test_diff_between_revisions(api: httpx.AsyncClient) -> None:
    one_two = (await api.get(f"/api/v1/groups/{WEB}/diff", params={"from": 1, "to": 2})).json()
    assert one_two["from"]["seq"] == 1 and one_two["to"]["seq"] == 2
    assert one_two["changes"] == ["+ ingress tcp/22 from 198.51.100.0/24"]
    assert "$update" in one_two["diff"]
    two_three = (await api.get(f"/api/v1/groups/{WEB}/diff", params={"from": 2, "to": 3})).json()
    assert two_three["changes"] == [
        "+ ingress tcp/22 from 0.0.0.0/0",
        "- ingress tcp/22 from 198.51.100.0/24",
    ]
    same = (await api.get(f"/api/v1/groups/{WEB}/diff", params={"from": 2, "to": 2})).json()
    assert same["changes"] == [] and same["diff"] == {}


async def test_adjacent_diffs_read_like_the_history(api: httpx.AsyncClient) -> None:
    history = (await api.get(f"/api/v1/groups/{WEB}/revisions")).json()["items"]
    stored = {r["seq"]: r["changes"] for r in history}
    for seq in (2, 3):
        body = (
            await api.get(f"/api/v1/groups/{WEB}/diff", params={"from": seq - 1, "to": seq})
        ).json()
        assert body["changes"] == stored[seq], seq


async def test_diff_between_instants_and_up_to_now(api: httpx.AsyncClient) -> None:
    params = {"from": (TIMES[0] + HOUR).isoformat(), "to": (TIMES[2] + HOUR).isoformat()}
    body = (await api.get(f"/api/v1/groups/{WEB}/diff", params=params)).json()
    assert (body["from"]["seq"], body["to"]["seq"]) == (1, 3)
    assert body["changes"] == ["+ ingress tcp/22 from 0.0.0.0/0"]
    mixed = (
        await api.get(f"/api/v1/groups/{WEB}/diff", params={"from": 1, "to": params["to"]})
    ).json()
    assert mixed["changes"] == body["changes"]
    now = (await api.get(f"/api/v1/groups/{WEB}/diff", params={"from": "1"})).json()
    assert now["to"]["seq"] == 4 and now["to"]["change_type"] == "deleted"
    assert now["changes"][-1].startswith("group deleted at")


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ({"from": 3, "to": 1}, 422, "is after to"),
        ({"from": TIMES[2].isoformat(), "to": TIMES[1].isoformat()}, 422, "is after to"),
        ({"from": TIMES[2].isoformat(), "to": 1}, 422, "is after to"),
        ({"from": "soon"}, 422, "neither a revision number nor an ISO 8601 instant"),
        ({"from": 1, "to": "2026-02-30T00:00:00Z"}, 422, "to:"),
        ({"from": (TIMES[0] - HOUR).isoformat()}, 404, "did not exist yet"),
        ({"from": 1, "to": 7}, 404, "revision 7 does not exist"),
        ({}, 422, "query.from"),
    ],
)
async def test_bad_diffs_say_what_was_wrong(
    api: httpx.AsyncClient, params: dict[str, object], status: int, says: str
) -> None:
    response = await api.get(f"/api/v1/groups/{WEB}/diff", params=params)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    assert says in response.json()["detail"]
