"""The `secmonkey` command against a running API prints the same answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import httpx
import pytest

from secmonkey.client.cli import main
from tests.integration.api.harness import ADMIN_KEY, LiveServer
from tests.support.estate import BASTION, DB, DEV, LEGACY, TIMES, UNKNOWN, WEB

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


def api_json(live: LiveServer, path: str, params: Any = None) -> Any:
    response = httpx.get(
        f"{live.url}/api/v1{path}",
        params=params,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()


@pytest.mark.parametrize(
    ("args", "path", "params"),
    [
        (["groups", "--state", "all"], "/groups", {"state": "all"}),
        (["groups", "--account", DEV], "/groups", {"account_id": DEV}),
        (
            ["resolve", WEB, f"{BASTION},{UNKNOWN}"],
            "/groups/resolve",
            {"ids": f"{WEB},{BASTION},{UNKNOWN}"},
        ),
        (["show", DB], f"/groups/{DB}", None),
        (["history", WEB], f"/groups/{WEB}/revisions", None),
        (["at", WEB, TIMES[2].isoformat()], f"/groups/{WEB}/at", {"time": TIMES[2].isoformat()}),
        (["diff", WEB, "1", "3"], f"/groups/{WEB}/diff", {"from": "1", "to": "3"}),
        (["search", "ip", "10.0.1.2"], "/search/ip", {"ip": "10.0.1.2"}),
        (
            ["search", "cidr", "10.0.0.0/8", "--match", "within"],
            "/search/cidr",
            {"cidr": "10.0.0.0/8", "match": "within"},
        ),
        (["issues", "--status", "all"], "/issues", {"status": "all"}),
        (["events", "--type", "group.deleted"], "/events", {"type": "group.deleted"}),
        (["accounts", "list"], "/accounts", None),
        (["allowlist", "list"], "/allowlist", None),
    ],
)
def test_json_output_is_the_api_answer(
    cli: Any, live: LiveServer, args: list[str], path: str, params: Any
) -> None:
    out, _ = cli("--json", *args)
    assert json.loads(out) == api_json(live, path, params)


def test_tables_show_the_answers(cli: Any) -> None:
    out, _ = cli("groups", "--state", "all")
    for name in ("web", "orders-db", "Legacy-Open", "dev-bastion"):
        assert name in out
    out, _ = cli("resolve", WEB, UNKNOWN)
    assert "deleted" in out and "unknown" in out and "prod" in out
    out, _ = cli("search", "ip", "203.0.113.7", "--direction", "ingress")
    assert "ingress tcp/22 from 203.0.113.7/32" in out and "dev-bastion" in out
    out, _ = cli("diff", WEB, "2", "3")
    assert "- ingress tcp/22 from 198.51.100.0/24" in out
    assert "+ ingress tcp/22 from 0.0.0.0/0" in out
    out, _ = cli("at", WEB, TIMES[0].isoformat())
    assert "revision 1" in out and "tcp/443" in out
    out, _ = cli("show", LEGACY)
    assert "Legacy-Open" in out and "internet-all-ports" in out
    out, _ = cli("report")
    assert "open issues" in out and "By account" in out
    out, _ = cli("report", "--format", "csv")
    assert out.startswith("severity,rule_id")


def test_admin_commands_round_trip(cli: Any) -> None:
    out, _ = cli("--json", "accounts", "add", "555555555555", "--name", "sandbox", "-l", "lab")
    assert json.loads(out)["labels"] == ["lab"]
    out, _ = cli("accounts", "show", "555555555555")
    assert "sandbox" in out
    out, _ = cli("--json", "keys", "create", "cli-viewer", "--role", "viewer")
    key = json.loads(out)
    assert key["key"].startswith("smk_")
    out, _ = cli("keys", "list")
    assert "cli-viewer" in out
    out, _ = cli(
        "--json",
        "subscriptions",
        "add",
        "--name",
        "sec",
        "--email",
        "sec@example.com",
        "-t",
        "issue.*",
    )
    sub = json.loads(out)
    out, _ = cli("--json", "subscriptions", "test", sub["id"])
    assert json.loads(out)["subscription_id"] == sub["id"]
    cli("subscriptions", "remove", sub["id"])
    cli("keys", "revoke", key["id"])
    cli("accounts", "remove", "555555555555")
    _, err = cli("accounts", "show", "555555555555", code=1)
    assert "404" in err and "no account 555555555555" in err


def test_justify_and_withdraw_from_the_command_line(cli: Any, live: LiveServer) -> None:
    out, _ = cli("--json", "keys", "create", "cli-auditor", "--role", "auditor")
    auditor = json.loads(out)["key"]
    out, _ = cli("--json", "issues", "--group", LEGACY)
    issue = json.loads(out)["items"][0]["id"]
    out, _ = cli(
        "--key", auditor, "justify", issue, "--reason", "accepted until the migration",
        "--until", "2099-01-01T00:00:00",
    )  # fmt: skip
    assert "justified" in out
    assert api_json(live, f"/issues/{issue}")["justification"]["by"] == "cli-auditor"
    out, _ = cli("--key", auditor, "justify", issue, "--reason", "-", "--withdraw")
    assert "open" in out
    assert api_json(live, f"/issues/{issue}")["status"] == "open"


async def test_sweep_from_the_command_line(cli: Any, live: LiveServer) -> None:
    out, _ = cli("--json", "sweep", "111111111111", "-r", "us-east-1")
    (queued,) = json.loads(out)["sweeps"]
    assert queued["account_id"] == "111111111111" and queued["regions"] == ["us-east-1"]
    message = await live.sweeps.get(timeout=10)  # type: ignore[attr-defined]
    await message.ack()
    assert json.loads(message.body)["sweep_id"] == queued["sweep_id"]


def test_errors_are_readable_and_exit_non_zero(cli: Any) -> None:
    _, err = cli("search", "ip", "300.1.1.1", code=1)
    assert "422" in err and "invalid IP address" in err
    _, err = cli("diff", WEB, "3", "1", code=1)
    assert "is after to" in err
    _, err = cli("--key", "smk_wrong", "groups", code=1)
    assert "401" in err
    _, err = cli("--url", "http://127.0.0.1:9", "groups", code=1)
    assert "cannot reach" in err


def test_the_installed_command_runs(live: LiveServer) -> None:
    env = os.environ | {"SECMONKEY_URL": live.url, "SECMONKEY_API_KEY": ADMIN_KEY}
    command = os.path.join(os.path.dirname(sys.executable), "secmonkey")
    result = subprocess.run(
        [command, "--json", "resolve", DB], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["results"][0]["matches"][0]["name"] == "orders-db"
