"""The evidence package an auditor is handed: a change in scope appears with its ticket,
reviewer and caller in the HTML, PDF (read back with pdftotext), CSV and JSON; every file
matches the manifest; the chains verify offline, and an edited file or revision is named;
only an auditor may download it, and every download is in the audit log."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.client.cli import main
from secmonkey.common.chain_verify import verify_file
from secmonkey.common.storage import Database
from tests.integration.api import harness
from tests.integration.api.test_change_control import (
    ALICE,
    PCI_TAGS,
    SCOPE,
    called_by,
    event_batch,
    key_of,
)
from tests.integration.auditor.kit import T0, batch, ingress, key, snap

pytestmark = pytest.mark.integration

PERIOD = {"scope": "pci", "from": (T0 - timedelta(days=1)).isoformat()}
REVIEW = f"{key('sg-web')}:2"


async def approved_change_in_scope(db: Database, admin: httpx.AsyncClient) -> None:
    """sg-web (in pci) created, then opened to the internet by alice and approved by the
    ticketing system with CHG-1234; sg-other is outside the scope; the RDP finding is
    justified; the chains are anchored."""
    auditor = Auditor(db, RulesConfig())
    assert (await admin.put("/api/v1/scopes/pci", json=SCOPE)).status_code == 200
    web = snap("sg-web", ingress(443, "10.0.0.0/8"), tags=PCI_TAGS)
    await auditor.handle(batch(0, web, snap("sg-other", ingress(443, "10.0.0.0/8"))))
    changed = snap(
        "sg-web",
        ingress(443, "10.0.0.0/8"),
        ingress(22, "0.0.0.0/0"),
        ingress(3389, "0.0.0.0/0"),
        tags=PCI_TAGS,
    )
    await auditor.handle(event_batch(60, changed, callers=[called_by(ALICE, 60, "sg-web")]))
    async with await key_of(admin, "servicenow", "reviewer") as ticketing:
        approved = await ticketing.post(
            f"/api/v1/change-reviews/{REVIEW}/review",
            json={"decision": "approve", "ticket": "CHG-1234", "comment": "window 12"},
        )
        assert approved.status_code == 200, approved.text
    issues = (await admin.get("/api/v1/issues", params={"group_id": "sg-web"})).json()["items"]
    rdp = next(i for i in issues if "3389" in i["message"] or "3389" in i["rule_text"])
    justified = await admin.put(
        f"/api/v1/issues/{rdp['id']}/justification", json={"reason": "bastion until Q3"}
    )
    assert justified.status_code == 200, justified.text
    assert (await admin.post("/api/v1/chain/anchors")).status_code == 201


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {n.split("/", 1)[1]: archive.read(n) for n in archive.namelist()}


def pdf_text(pdf: bytes, folder: Path) -> str:
    path = folder / "report.pdf"
    path.write_bytes(pdf)
    assert shutil.which("pdftotext"), "pdftotext is missing: `make pdftools` installs it"
    done = subprocess.run(  # noqa: S603
        ["pdftotext", "-layout", str(path), "-"],  # noqa: S607
        capture_output=True,
        check=True,
        text=True,
    )
    return done.stdout


def rewritten(path: Path, edit: dict[str, bytes]) -> Path:
    """A copy of the zip at `path` with some members' bytes replaced."""
    out = path.with_name("tampered-" + path.name)
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            short = name.split("/", 1)[1]
            dst.writestr(name, edit.get(short, src.read(name)))
    return out


async def test_the_package_holds_the_approved_change_with_ticket_caller_and_verifies(
    db: Database, fresh_app: FastAPI, tmp_path: Path
) -> None:
    async with harness.client_for(fresh_app) as admin:
        await approved_change_in_scope(db, admin)
        async with await key_of(admin, "bob auditor", "auditor") as bob:
            answer = await bob.get("/api/v1/evidence", params=PERIOD)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert answer.headers["x-content-sha256"] == hashlib.sha256(answer.content).hexdigest()
    files = members(answer.content)
    assert {"report.html", "report.pdf", "evidence.json", "changes.csv", "groups.csv"} <= set(files)
    assert {"findings.csv", "justifications.csv", "chain.json", "manifest.json"} <= set(files)

    # The manifest names every other file with its SHA-256, and the chains verified.
    manifest = json.loads(files["manifest.json"])
    listed = {f["name"]: f["sha256"] for f in manifest["files"]}
    assert set(listed) == set(files) - {"manifest.json"}
    assert all(hashlib.sha256(files[n]).hexdigest() == h for n, h in listed.items())
    assert manifest["chain_verification"]["ok"] is True
    assert manifest["chain_verification"]["anchors"] == 1
    assert (manifest["scope"], manifest["requested_by"]) == ("pci", "bob auditor")
    assert manifest["counts"] == {"changes": 2, "groups": 1, "findings": 1, "justifications": 1}

    # The change rows: when, who made it, the diff, the ticket, the reviewer.
    rows = list(csv.DictReader(io.StringIO(files["changes.csv"].decode())))
    assert [r["review_id"] for r in rows] == [f"{key('sg-web')}:1", REVIEW]
    change = rows[1]
    assert (change["ticket"], change["reviewer"], change["changed_by"]) == (
        "CHG-1234",
        "servicenow",
        ALICE,
    )
    assert change["status"] == "approved" and "0.0.0.0/0" in change["diff"]
    assert float(change["hours_to_review"]) > 0
    evidence = json.loads(files["evidence.json"])
    assert evidence["changes"][1]["ticket"] == "CHG-1234"
    assert [g["group_id"] for g in evidence["groups"]] == ["sg-web"]
    assert len(evidence["groups"][0]["rules"]) == 3
    [finding] = evidence["findings"]
    assert "22" in finding["message"] and finding["compliance"]
    [justification] = evidence["justifications"]
    assert justification["reason"] == "bastion until Q3"
    assert evidence["chain_verification"]["ok"] is True
    html = files["report.html"].decode()
    assert "CHG-1234" in html and ALICE in html and "bastion until Q3" in html

    # The PDF says the same, as text an auditor (or pdftotext) reads.
    text = pdf_text(files["report.pdf"], tmp_path)
    assert "ticket: CHG-1234" in text and "reviewer: servicenow" in text
    assert f"made by: {ALICE}" in text and "sg-web" in text
    assert "sg-other" not in text and "bastion until Q3" in text

    # Offline: the package verifies; an edited CSV or revision is named as a break.
    package = tmp_path / "evidence.zip"
    package.write_bytes(answer.content)
    assert verify_file(package).ok
    edited_csv = files["changes.csv"].replace(b"CHG-1234", b"CHG-9999")
    result = verify_file(rewritten(package, {"changes.csv": edited_csv}))
    assert [(b.chain, b.record, b.reason) for b in result.breaks] == [
        ("manifest", "changes.csv", "SHA-256 differs from the manifest")
    ]
    chain = json.loads(files["chain.json"])
    first = next(r for r in chain["revisions"] if r["_id"] == f"{key('sg-web')}:1")
    first["config"]["description"] = "edited"
    result = verify_file(rewritten(package, {"chain.json": json.dumps(chain).encode()}))
    named = {(b.chain, b.record) for b in result.breaks}
    assert ("revisions", f"{key('sg-web')}:2") in named
    assert ("manifest", "chain.json") in named and not result.ok

    # The download is in the audit log, with the hash of what was sent.
    async with harness.client_for(fresh_app) as admin:
        log = await admin.get("/api/v1/audit-log", params={"action": "evidence.downloaded"})
    [entry] = log.json()["items"]
    assert entry["actor"]["name"] == "bob auditor" and entry["target"] == "pci"
    assert entry["after"]["sha256"] == hashlib.sha256(answer.content).hexdigest()
    assert entry["after"]["chain_ok"] is True


async def test_only_an_auditor_gets_evidence_and_bad_requests_are_clear(
    db: Database, fresh_app: FastAPI
) -> None:
    async with harness.client_for(fresh_app) as admin:
        assert (await admin.put("/api/v1/scopes/pci", json=SCOPE)).status_code == 200
        for role in ("viewer", "reviewer"):
            async with await key_of(admin, f"a {role}", role) as other:
                refused = await other.get("/api/v1/evidence", params=PERIOD)
                assert refused.status_code == 403, (role, refused.text)
        missing = await admin.get("/api/v1/evidence", params={"scope": "sox"})
        assert missing.status_code == 404 and "sox" in missing.json()["detail"]
        backwards = await admin.get(
            "/api/v1/evidence", params={"scope": "pci", "from": "2026-03-02", "to": "2026-03-01"}
        )
        assert backwards.status_code == 422
        bad = await admin.get("/api/v1/evidence", params={"scope": "PCI;drop"})
        assert bad.status_code == 422
    assert await db.audit_log.count_documents({"action": "evidence.downloaded"}) == 0


async def test_a_long_period_is_cut_into_pdf_parts_that_all_match_the_manifest(
    mongo_url: str, amqp_url: str, db_name: str, db: Database
) -> None:
    auditor = Auditor(db, RulesConfig())
    settings = harness.settings_for(mongo_url, amqp_url, db_name, evidence_pdf_rows=10)
    async with harness.running(settings) as app, harness.client_for(app) as admin:
        await admin.put("/api/v1/scopes/pci", json=SCOPE)
        groups = [
            snap(f"sg-p{i:02d}", ingress(443, "10.0.0.0/8"), tags=PCI_TAGS) for i in range(25)
        ]
        await auditor.handle(batch(0, *groups))
        answer = await admin.get("/api/v1/evidence", params=PERIOD)
    assert answer.status_code == 200, answer.text
    files = members(answer.content)
    pdfs = sorted(n for n in files if n.endswith(".pdf"))
    # 25 changes and 25 group states: 50 rows, 10 a part.
    assert pdfs == ["report-2.pdf", "report-3.pdf", "report-4.pdf", "report-5.pdf", "report.pdf"]
    listed = {f["name"] for f in json.loads(files["manifest.json"])["files"]}
    assert set(pdfs) <= listed


@pytest.fixture
def live(mongo_url: str, amqp_url: str, db_name: str) -> Iterator[harness.LiveServer]:
    server = harness.LiveServer(harness.settings_for(mongo_url, amqp_url, db_name)).start()
    yield server
    server.stop()


async def test_the_cli_downloads_the_package_and_verifies_it(
    db: Database,
    live: harness.LiveServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SECMONKEY_URL", live.url)
    monkeypatch.setenv("SECMONKEY_API_KEY", harness.ADMIN_KEY)
    monkeypatch.setenv("COLUMNS", "250")
    auditor = Auditor(db, RulesConfig())
    async with httpx.AsyncClient(
        base_url=live.url, headers={"Authorization": f"Bearer {harness.ADMIN_KEY}"}
    ) as admin:
        await admin.put("/api/v1/scopes/pci", json=SCOPE)
    await auditor.handle(batch(0, snap("sg-cli", ingress(443, "10.0.0.0/8"), tags=PCI_TAGS)))
    target = tmp_path / "pci.zip"
    now = datetime.now(UTC).isoformat()
    assert main(["evidence", "pci", "--from", T0.isoformat(), "--to", now, "-o", str(target)]) == 0
    out = capsys.readouterr().out
    assert str(target) in out and hashlib.sha256(target.read_bytes()).hexdigest() in out
    assert main(["verify", "--package", str(target)]) == 0
    assert "intact" in capsys.readouterr().out
    assert await db.audit_log.count_documents({"action": "evidence.downloaded"}) == 1
