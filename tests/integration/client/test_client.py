"""The typed client answers what the API answers, sync and async, and raises its problems."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from secmonkey.client import ApiError, AsyncClient, Client, ConnectionFailed
from secmonkey.client import models as m
from tests.integration.api.harness import ADMIN_KEY, LiveServer
from tests.support.estate import BASTION, DB, DEV, LEGACY, TIMES, UNKNOWN, WEB

pytestmark = pytest.mark.integration


def raw(live: LiveServer, path: str, params: Any = None) -> Any:
    response = httpx.get(
        f"{live.url}/api/v1{path}",
        params=params,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()


def dumped(value: Any) -> Any:
    if isinstance(value, list):
        return [dumped(v) for v in value]
    return value.model_dump(mode="json", by_alias=True)


def test_sync_client_models_carry_every_field(live: LiveServer) -> None:
    with Client(live.url, ADMIN_KEY) as api:
        pairs: list[tuple[Any, Any]] = [
            (api.groups(state="all"), raw(live, "/groups", {"state": "all"})),
            (
                api.resolve([WEB, UNKNOWN]),
                raw(live, "/groups/resolve", {"ids": f"{WEB},{UNKNOWN}"}),
            ),
            (api.group(DB), raw(live, f"/groups/{DB}")),
            (api.revisions(WEB), raw(live, f"/groups/{WEB}/revisions")),
            (api.revision(WEB, 2), raw(live, f"/groups/{WEB}/revisions/2")),
            (api.at(WEB, TIMES[1]), raw(live, f"/groups/{WEB}/at", {"time": TIMES[1].isoformat()})),
            (api.diff(WEB, 1, 3), raw(live, f"/groups/{WEB}/diff", {"from": 1, "to": 3})),
            (api.search_ip("10.0.1.2"), raw(live, "/search/ip", {"ip": "10.0.1.2"})),
            (
                api.search_cidr("2001:db8::/32", "overlaps"),
                raw(live, "/search/cidr", {"cidr": "2001:db8::/32", "match": "overlaps"}),
            ),
            (api.issues(status="all"), raw(live, "/issues", {"status": "all"})),
            (api.events(account_id=DEV), raw(live, "/events", {"account_id": DEV})),
            (api.accounts(), raw(live, "/accounts")),
            (api.keys(), raw(live, "/keys")),
        ]
        for typed, expected in pairs:
            assert dumped(typed) == expected
        report = api.report()
        expected_report = raw(live, "/report")
        assert dumped(report) | {"generated_at": None} == expected_report | {"generated_at": None}
        assert api.report_text("csv").startswith("severity,rule_id")
    assert isinstance(pairs[0][0], m.GroupPage)


def test_typed_answers_are_usable(live: LiveServer) -> None:
    with Client(live.url, ADMIN_KEY) as api:
        detail = api.group(LEGACY)
        assert detail.config.name == "Legacy-Open" and detail.issues
        found = api.search_ip("2001:db8:abcd::1", direction="ingress")
        assert {r.group_id for r in found.results} == {BASTION, LEGACY}
        diff = api.diff(WEB, 2, 3)
        assert diff.from_.seq == 2 and diff.to.seq == 3
        assert diff.changes == [
            "+ ingress tcp/22 from 0.0.0.0/0",
            "- ingress tcp/22 from 198.51.100.0/24",
        ]


def test_errors_carry_the_problem_details(live: LiveServer) -> None:
    with Client(live.url, ADMIN_KEY) as api:
        with pytest.raises(ApiError) as missing:
            api.group(UNKNOWN)
        assert missing.value.status == 404 and UNKNOWN in (missing.value.detail or "")
        with pytest.raises(ApiError) as bad:
            api.search_cidr("10.0.0.0/99")
        assert bad.value.status == 422 and "exceeds /32" in (bad.value.detail or "")
    with Client(live.url, "smk_wrong") as stranger, pytest.raises(ApiError) as refused:
        stranger.groups()
    assert refused.value.status == 401
    with Client("http://127.0.0.1:9", ADMIN_KEY) as nowhere, pytest.raises(ConnectionFailed):
        nowhere.groups()


async def test_async_client_writes_and_reads(live: LiveServer) -> None:
    async with AsyncClient(live.url, ADMIN_KEY) as api:
        created = await api.create_key("async ci", "auditor")
        assert created.key.startswith("smk_") and created.role == "auditor"
        async with AsyncClient(live.url, created.key) as auditor:
            issue = (await auditor.issues(group_id=LEGACY)).items[0]
            justified = await auditor.justify(issue.id, "accepted for the test")
            assert justified.status == "justified"
            assert justified.justification is not None
            assert justified.justification.by == "async ci"
            await auditor.unjustify(issue.id)
            assert (await auditor.issue(issue.id)).status == "open"
            with pytest.raises(ApiError) as forbidden:
                await auditor.keys()
            assert forbidden.value.status == 403
        entry = await api.put_allowlist("vpn", "198.51.100.0/24", "corporate VPN")
        assert entry.cidr == "198.51.100.0/24"
        assert "vpn" in [e.name for e in await api.allowlist()]
        await api.delete_allowlist("vpn")
        updated = await api.update_key(created.id, enabled=False)
        assert updated.enabled is False
        await api.delete_key(created.id)
        assert created.id not in [k.id for k in await api.keys()]
        assert DB in {g.group_id for g in (await api.groups()).items}
