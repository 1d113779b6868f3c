"""`python -m secmonkey.auditor`: it starts, answers its probes, and refuses a broken rules file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from aio_pika.abc import AbstractRobustConnection

from secmonkey.common.storage import Database
from tests.support.servers import free_port

pytestmark = pytest.mark.integration


def env_for(db: Database, unique: str, mongo_url: str, amqp_url: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "SECMONKEY_MONGO_URL": mongo_url,
        "SECMONKEY_MONGO_DB": db.name,
        "SECMONKEY_AMQP_URL": amqp_url,
        "SECMONKEY_AUDITOR_QUEUE": f"test.auditor.service.{unique}",
        "SECMONKEY_PARTITIONS": "0",
        "SECMONKEY_AUDITOR_ROUTING_KEYS": "[]",
        "SECMONKEY_AUDITOR_PORT": str(port),
    }


def get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def test_the_service_starts_and_is_ready(
    db: Database, unique: str, mongo_url: str, amqp_url: str, rabbit: AbstractRobustConnection
) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "secmonkey.auditor"],
        env=env_for(db, unique, mongo_url, amqp_url, port),
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "the auditor exited"
            try:
                status, body = get(f"http://127.0.0.1:{port}/readyz")
                if status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "not ready in 60s"
            time.sleep(0.2)
        assert body["checks"] == {
            "mongodb": "ok",
            "rabbitmq": "ok",
            f"consumer test.auditor.service.{unique}": "ok",
        }
        assert get(f"http://127.0.0.1:{port}/healthz") == (200, {"status": "ok"})
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        channel = await rabbit.channel()
        await channel.queue_delete(f"test.auditor.service.{unique}")
        await channel.queue_delete(f"test.auditor.service.{unique}.dead")
        await channel.close()


def test_a_broken_rules_file_is_refused_at_start(
    tmp_path: Path, db: Database, unique: str, mongo_url: str, amqp_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  internet-admin-port:\n    severity: catastrophic\n")
    env = env_for(db, unique, mongo_url, amqp_url, free_port()) | {
        "SECMONKEY_RULES_FILE": str(rules)
    }
    done = subprocess.run(
        [sys.executable, "-m", "secmonkey.auditor"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"{rules}:3: rules.internet-admin-port.severity" in done.stderr
    assert "'info', 'low', 'medium', 'high' or 'critical'" in done.stderr
