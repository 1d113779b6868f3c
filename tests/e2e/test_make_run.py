"""`make run` is the first thing a newcomer types: it must reach an alert and stop cleanly."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pymongo
import pytest

from deploy.local import vhosts

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def _free_base() -> int:
    """A base port whose +0..+99 neighbourhood this test uses (services, moto, sinks)."""
    for _ in range(50):
        base = 10000 + (uuid.uuid4().int % 220) * 100  # below the ephemeral range
        ports = [base, base + 1, base + 2, base + 3, base + 25, base + 55, base + 90, base + 99]
        if all(_free(p) for p in ports):
            return base
    raise RuntimeError("no free port range found")


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _processes_with_env(name: str, value: str) -> list[str]:
    """Every live process started by this run (they all inherit its environment)."""
    needle = f"{name}={value}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if needle in (proc / "environ").read_bytes().split(b"\0"):
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                found.append(f"{proc.name}: {cmdline}")
        except OSError:
            continue
    return found


def _alerts(folder: Path) -> list[Path]:
    return sorted(folder.glob("*/*")) if folder.exists() else []


@pytest.mark.timeout(400)
def test_make_run_reaches_an_alert_answers_the_api_and_stops_cleanly(
    tmp_path: Path, mongo_url: str
) -> None:
    base = _free_base()
    tag = uuid.uuid4().hex[:10]
    demo_db = f"test_run_{uuid.uuid4().hex[:8]}"
    state, alerts = tmp_path / "run", tmp_path / "alerts"
    env = {
        **os.environ,
        "SECMONKEY_RUN_STATE": str(state),
        "SECMONKEY_RUN_ALERTS": str(alerts),
        "SECMONKEY_RUN_BASE_PORT": str(base),
        "SECMONKEY_RUN_DEMO_DB": demo_db,
        "SECMONKEY_MONGO_DB": f"test_empty_{uuid.uuid4().hex[:8]}",
        # A virtual host of its own, beside a developer's `make run` (`secmonkey-run`):
        # the production queue names, and nothing of one run reaches the other.
        "SECMONKEY_RUN_VHOST": f"test-run-{tag}",
    }
    env.pop("SECMONKEY_ACCOUNTS_FILE", None)
    log = tmp_path / "make-run.log"
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["make", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        first_alert = None
        while time.monotonic() - started < 240 and proc.poll() is None:
            found = _alerts(alerts)
            if found:
                first_alert = time.monotonic() - started
                break
            time.sleep(1)
        output = log.read_text(errors="replace")
        assert first_alert is not None, f"no alert within 240 s; make run said:\n{output[-4000:]}"
        print(f"first alert after {first_alert:.0f}s")

        match = re.search(r"admin key\s+(smk_\S+)", output)
        deadline = time.monotonic() + 60
        while match is None and time.monotonic() < deadline:
            time.sleep(1)
            output = log.read_text(errors="replace")
            match = re.search(r"admin key\s+(smk_\S+)", output)
        assert match, f"make run did not print the admin key:\n{output[-4000:]}"
        key = match.group(1)
        api = f"http://127.0.0.1:{base}"
        assert f"{api}/docs" in output
        groups = httpx.get(
            f"{api}/api/v1/groups", headers={"Authorization": f"Bearer {key}"}, timeout=10
        )
        assert groups.status_code == 200, groups.text
        assert groups.json()["items"], "the API lists no group after the first sweep"
        examples = [
            line.split("|", 1)[-1].strip()
            for line in output.splitlines()
            if "SECMONKEY_URL=" in line
        ]
        assert len(examples) >= 3, output[-3000:]
        for example in examples:
            ran = subprocess.run(example, shell=True, capture_output=True, text=True, timeout=60)
            assert ran.returncode == 0, f"{example}\n{ran.stdout}\n{ran.stderr}"
        refused = httpx.get(
            f"{api}/api/v1/groups", headers={"Authorization": "Bearer wrong"}, timeout=10
        )
        assert refused.status_code == 401
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    vhosts.delete(f"test-run-{tag}")
    with pymongo.MongoClient(mongo_url) as client:  # `make run` keeps its demo database
        client.drop_database(demo_db)
    time.sleep(1)
    leftovers = _processes_with_env("SECMONKEY_RUN_STATE", str(state))
    assert leftovers == [], f"processes left behind: {leftovers}"
    for port in (base, base + 1, base + 2, base + 3, base + 25, base + 55, base + 90, base + 99):
        assert _free(port), f"something still listens on {port}"
