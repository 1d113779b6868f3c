"""The per-framework posture: an auditor asks "how do we stand against PCI DSS 1.3.1 in
prod?" and gets each control, the rules that test it and pass/fail counts per account,
computed from the open and justified issues of the audited groups."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx
import pytest

from secmonkey.common.frameworks import POSTURE_FRAMEWORKS
from tests.integration.api.test_issues import all_pages
from tests.support.estate import DEV, LEGACY, PROD

pytestmark = pytest.mark.integration


def control(posture: dict[str, Any], name: str) -> dict[str, Any]:
    found = [c for c in posture["controls"] if c["control"] == name]
    assert found, f"no control {name} in {[c['control'] for c in posture['controls']]}"
    return found[0]


def account_row(ctl: dict[str, Any], account: str) -> dict[str, Any]:
    return next(row for row in ctl["accounts"] if row["account_id"] == account)


async def test_every_framework_lists_controls_with_their_rules(api: httpx.AsyncClient) -> None:
    listed = (await api.get("/api/v1/compliance")).json()
    assert [f["id"] for f in listed] == list(POSTURE_FRAMEWORKS)
    assert all(f["controls"] > 0 for f in listed)
    for framework in ("cis", "pci", "hipaa", "soc2", "nist-800-53"):
        response = await api.get(f"/api/v1/compliance/{framework}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["controls"] and body["catalog_published_at"]
        assert all(c["rules"] and c["title"] for c in body["controls"])
    nist = (await api.get("/api/v1/compliance/NIST")).json()  # an alias, any case
    assert nist["framework"] == "nist-800-53"
    sc7 = control(nist, "SC-7")
    assert sc7["title"] == "Boundary Protection"
    assert {"internet-all-ports", "internet-ingress"} <= {r["id"] for r in sc7["rules"]}
    ac17 = control(nist, "AC-17")
    assert [r["id"] for r in ac17["rules"]] == ["internet-admin-port"]


async def test_counts_match_the_open_issues_of_each_accounts_groups(
    api: httpx.AsyncClient,
) -> None:
    issues = await all_pages(api, "/api/v1/issues", {"status": "all", "limit": "500"})
    cis = (await api.get("/api/v1/compliance/cis")).json()
    ctl = control(cis, "5.2")
    rules = {r["id"] for r in ctl["rules"]}
    failing: dict[str, set[str]] = defaultdict(set)
    for issue in issues:
        if issue["status"] == "open" and issue["rule_id"] in rules:
            failing[issue["account_id"]].add(issue["group_id"])
    prod = account_row(ctl, PROD)
    assert LEGACY in failing[PROD]  # open to the whole internet
    assert prod["failed"] == len(failing[PROD]) and prod["status"] == "fail"
    # Prod's active groups: orders-db and Legacy-Open (web was deleted): one passes.
    assert prod["audited"] == 2 and prod["passed"] == 1
    assert ctl["status"] == "fail" and ctl["failed"] >= 1
    dev = account_row(ctl, DEV)
    assert dev["failed"] == len(failing[DEV]) and dev["passed"] == dev["audited"] - dev["failed"]


async def test_an_account_filter_and_an_unknown_framework(api: httpx.AsyncClient) -> None:
    only_dev = (await api.get("/api/v1/compliance/pci", params={"account_id": DEV})).json()
    assert {row["account_id"] for c in only_dev["controls"] for row in c["accounts"]} == {DEV}
    missing = await api.get("/api/v1/compliance/iso-27001")
    assert missing.status_code == 404 and "known: cis" in missing.json()["detail"]
    bad = await api.get("/api/v1/compliance/%24where")
    assert bad.status_code == 422
