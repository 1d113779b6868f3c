"""The OCSF export: a SIEM or data lake ingests every finding as OCSF 1.5 and each line
validates against `py-ocsf-models` (Detection Finding, or Compliance Finding for GRC
tools), with the lifecycle as OCSF statuses; a large estate streams page by page."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding
from py_ocsf_models.events.findings.detection_finding import DetectionFinding
from pydantic import BaseModel

from secmonkey.api.queries.export import ocsf_lines
from tests.integration.api.test_issues import all_pages
from tests.support.estate import LEGACY, PROD, WEB

pytestmark = pytest.mark.integration


def validated(line: str, model: type[BaseModel]) -> dict[str, Any]:
    """The line parsed by the model, and nothing in it the model does not know."""
    raw = json.loads(line)
    parsed = model.model_validate(raw)
    again = json.loads(parsed.model_dump_json(exclude_none=True))
    assert again == raw, "fields outside the OCSF model, or values it rewrites"
    return raw


async def export(api: httpx.AsyncClient, **params: str) -> list[str]:
    response = await api.get("/api/v1/export/ocsf", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return response.text.splitlines()


async def test_every_issue_is_a_valid_detection_finding(api: httpx.AsyncClient) -> None:
    issues = await all_pages(api, "/api/v1/issues", {"status": "all", "limit": "500"})
    lines = await export(api)
    findings = [validated(line, DetectionFinding) for line in lines]
    assert sorted(f["finding_info"]["uid"] for f in findings) == sorted(i["id"] for i in issues)
    by_id = {f["finding_info"]["uid"]: f for f in findings}
    for issue in issues:
        found = by_id[issue["id"]]
        assert found["class_uid"] == 2004 and found["type_uid"] // 100 == 2004
        assert found["cloud"]["account"]["uid"] == issue["account_id"]
        resource = found["resources"][0]
        assert resource["type"] == "AWS::EC2::SecurityGroup"
        assert resource["uid"].endswith(f":security-group/{issue['group_id']}")
        assert found["finding_info"]["analytic"]["uid"] == issue["rule_id"]
        expected = {"open": 1, "justified": 3, "fixed": 4, "deleted": 5}[issue["status"]]
        assert found["status_id"] == expected
    legacy = [f for f in findings if f["resources"][0]["data"]["group_id"] == LEGACY]
    assert legacy and all(f["cloud"]["account"]["name"] == "prod" for f in legacy)
    # The web group was deleted: its findings are archived, not left open.
    web = [f for f in findings if f["resources"][0]["data"]["group_id"] == WEB]
    assert web and all(f["status_id"] == 5 for f in web)
    # Tags come from the rule catalog, NIST 800-53 included.
    assert any("NIST 800-53 rev 5 SC-7" in f["unmapped"]["compliance"] for f in legacy)


async def test_compliance_findings_name_standards_and_controls(api: httpx.AsyncClient) -> None:
    lines = await export(api, **{"class": "compliance", "status": "open", "account_id": PROD})
    findings = [validated(line, ComplianceFinding) for line in lines]
    assert findings and all(f["class_uid"] == 2003 for f in findings)
    assert all(f["resources"][0]["data"]["account_id"] == PROD for f in findings)
    legacy = next(
        f
        for f in findings
        if f["resources"][0]["data"]["group_id"] == LEGACY
        and f["finding_info"]["analytic"]["uid"] == "internet-all-ports"
    )
    compliance = legacy["compliance"]
    assert compliance["status_id"] == 3  # Fail
    assert "PCI DSS v4.0" in compliance["standards"]
    assert "NIST SP 800-53 Rev. 5" in compliance["standards"]
    assert "cis:5.2" in compliance["control"]


async def test_small_pages_give_the_same_export(
    api: httpx.AsyncClient, estate_app: FastAPI
) -> None:
    whole = await export(api)
    db = estate_app.state.runtime.db
    paged = [line.decode().rstrip("\n") async for line in ocsf_lines(db, "detection", page=2)]
    assert len(whole) > 2
    assert [json.loads(x)["finding_info"]["uid"] for x in paged] == [
        json.loads(x)["finding_info"]["uid"] for x in whole
    ]


async def test_a_bad_class_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/export/ocsf", params={"class": "incident"})
    assert response.status_code == 422
