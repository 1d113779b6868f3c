"""`secmonkey compliance <framework>` and `secmonkey export ocsf` against a running API:
the posture table an auditor reads in a terminal, and an OCSF file a SIEM ingests."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding
from py_ocsf_models.events.findings.detection_finding import DetectionFinding

from secmonkey.client.cli import main
from tests.integration.api.harness import ADMIN_KEY, LiveServer
from tests.integration.client.test_cli import api_json
from tests.support.estate import PROD

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(
    live: LiveServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Any:
    monkeypatch.setenv("SECMONKEY_URL", live.url)
    monkeypatch.setenv("SECMONKEY_API_KEY", ADMIN_KEY)
    monkeypatch.setenv("COLUMNS", "250")

    def run(*args: str, code: int = 0) -> tuple[str, str]:
        capsys.readouterr()
        assert main(list(args)) == code
        captured = capsys.readouterr()
        return captured.out, captured.err

    return run


def test_compliance_prints_each_control_with_its_rules_and_counts(
    cli: Any,
    live: LiveServer,
) -> None:
    out, _ = cli("compliance", "nist-800-53")
    assert "SC-7" in out and "Boundary Protection" in out and "AC-17" in out
    assert "internet-admin-port" in out and "prod (111111111111)" in out
    out, _ = cli("--json", "compliance", "pci", "--account", PROD)
    assert (
        json.loads(out)["controls"]
        == api_json(live, "/compliance/pci", {"account_id": PROD})["controls"]
    )
    out, _ = cli("compliance")
    assert "nist-800-53" in out and "hipaa" in out
    _, err = cli("compliance", "iso-27001", code=1)
    assert "no compliance framework" in err


def test_export_ocsf_streams_valid_findings_to_a_file_and_stdout(
    cli: Any,
    live: LiveServer,
    tmp_path: Path,
) -> None:
    target = tmp_path / "findings.ndjson"
    _, err = cli("export", "ocsf", "--output", str(target))
    lines = target.read_text().splitlines()
    assert f"wrote {len(lines)} findings" in err
    issues = api_json(live, "/issues", {"status": "all", "limit": 500})["items"]
    assert len(lines) == len(issues)
    for line in lines:
        DetectionFinding.model_validate_json(line)
    out, _ = cli("export", "ocsf", "--class", "compliance", "--status", "open")
    parsed = [ComplianceFinding.model_validate_json(line) for line in out.splitlines()]
    assert parsed and all(f.class_uid == 2003 for f in parsed)
    _, err = cli("export", "ocsf", "--class", "incident", code=2)
    assert "unknown class" in err


def test_accounts_opt_into_security_hub_with_their_own_writer_role(cli: Any) -> None:
    account = "5" + uuid.uuid4().hex[:11].translate(str.maketrans("abcdef", "123456"))
    writer = f"arn:aws:iam::{account}:role/secmonkey-writer"
    out, _ = cli(
        "--json", "accounts", "add", account, "--name", "cde",
        "--security-hub-role", writer, "--security-hub-region", "eu-west-1",
    )  # fmt: skip
    assert json.loads(out)["security_hub"] == {
        "enabled": True,
        "role_arn": writer,
        "region": "eu-west-1",
    }
    foreign = writer.replace(account, "999999999999")
    _, err = cli(
        "accounts", "update", account, "--name", "cde", "--security-hub-role", foreign, code=1
    )
    assert "belongs to account 999999999999" in err
    cli("accounts", "remove", account)
