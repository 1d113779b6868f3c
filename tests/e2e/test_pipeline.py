"""One change travels the whole system: simulated AWS → collector → auditor → notifier and API.

The four services run as separate processes (as in production), against the local
RabbitMQ and MongoDB-protocol server, a moto server, an SMTP sink and a webhook receiver.
Queue names and routing keys are unique to the test so nothing else is consumed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection

from secmonkey.collector.simulate import ec2_client, fill_estate
from secmonkey.common.storage import Database
from tests.support.servers import HttpReceiver, MotoServer, SmtpSink, free_port

pytestmark = pytest.mark.e2e
ADMIN_KEY = f"smk_e2e_{uuid.uuid4().hex}"


class Services:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}
        self.probe_ports: dict[str, int] = {}

    def start(self, name: str, env: dict[str, str]) -> None:
        port = free_port()
        self.ports[name] = port
        # The API serves its probes on a port of their own; the others on their only one.
        self.probe_ports[name] = free_port() if name == "api" else port
        full = {
            **os.environ,
            **env,
            "SECMONKEY_PORT": str(port),
            "SECMONKEY_AUDITOR_PORT": str(port),
            "SECMONKEY_METRICS_PORT": str(self.probe_ports[name]),
        }
        log = (self.tmp / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", f"secmonkey.{name}"],
            env=full,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        for name, port in self.probe_ports.items():
            while True:
                assert self.procs[name].poll() is None, f"{name} exited:\n{self.log(name)}"
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"{name} not ready:\n{self.log(name)}"
                time.sleep(0.3)

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    running = Services(tmp_path)
    yield running
    running.stop()


def _until(what: str, check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.timeout(300)
async def test_one_change_reaches_webhook_email_and_history(
    services: Services,
    moto: MotoServer,
    smtp_sink: SmtpSink,
    http_receiver: HttpReceiver,
    db: Database,  # the services' database, dropped afterwards
    db_name: str,
    mongo_url: str,
    amqp_url: str,
    rabbit: AbstractRobustConnection,
    unique: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    account = f"31{int(unique[:8], 16) % 10**10:010d}"
    estate = fill_estate(moto.url, [account], ["us-east-1"], 4, seed=7, attach_share=0.0)
    accounts_file = tmp_path / "accounts.yaml"
    estate.write_accounts_file(accounts_file)
    target = estate.groups[(account, "us-east-1")][0]

    sweeps_queue = f"e2e.{unique}.sweeps"
    common = {
        "SECMONKEY_AMQP_URL": amqp_url,
        "SECMONKEY_MONGO_URL": mongo_url,
        "SECMONKEY_MONGO_DB": db_name,
        "SECMONKEY_LOG_JSON": "true",
        "SECMONKEY_ENVIRONMENT": "test",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    services.start(
        "collector",
        {
            **common,
            "SECMONKEY_AWS_ENDPOINT_URL": moto.url,
            "SECMONKEY_ACCOUNTS_FILE": str(accounts_file),
            "SECMONKEY_SWEEPS_QUEUE": sweeps_queue,
            "SECMONKEY_ROUTING_PREFIX": f"e2e{unique}",
            "SECMONKEY_SCHEDULER_ENABLED": "false",
        },
    )
    services.start(
        "auditor",
        {
            **common,
            "SECMONKEY_AUDITOR_QUEUE": f"e2e.{unique}.snapshots",
            "SECMONKEY_AUDITOR_ROUTING_KEYS": json.dumps([f"e2e{unique}.#"]),
        },
    )
    services.start(
        "notifier",
        {
            **common,
            "SECMONKEY_QUEUE": f"e2e.{unique}.events",
            "SECMONKEY_SMTP_HOST": "127.0.0.1",
            "SECMONKEY_SMTP_PORT": str(smtp_sink.port),
            "SECMONKEY_SMTP_SECURITY": "none",
            "SECMONKEY_WEBHOOK_ALLOW_HTTP": "true",
            "SECMONKEY_WEBHOOK_ALLOW_PRIVATE": "true",
            "SECMONKEY_SUBSCRIPTION_CACHE_SECONDS": "0",
        },
    )
    services.start(
        "api",
        {
            **common,
            "SECMONKEY_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
            "SECMONKEY_SWEEPS_QUEUE": sweeps_queue,
            "SECMONKEY_WEBHOOK_ALLOW_HTTP": "true",
            "SECMONKEY_WEBHOOK_ALLOW_PRIVATE": "true",
        },
    )
    try:
        services.wait_ready()
        api = httpx.Client(
            base_url=f"http://127.0.0.1:{services.ports['api']}/api/v1",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            timeout=15,
        )
        for sub in (
            {
                "name": "chat",
                "filters": {"event_types": ["issue.opened"], "account_ids": [account]},
                "channel": {
                    "type": "generic",
                    "url": f"{http_receiver.url}/hook",
                    "secret": "e2e-secret-0123456789",
                },
            },
            {
                "name": "mail",
                "filters": {"event_types": ["group.changed"], "account_ids": [account]},
                "channel": {"type": "email", "to": ["sec@example.com"]},
            },
        ):
            created = api.post("/subscriptions", json=sub)
            assert created.status_code == 201, created.text

        def sweep() -> None:
            response = api.post("/sweeps", json={"account_ids": [account]})
            assert response.status_code in (200, 202), response.text

        sweep()
        _until(
            "the first sweep to be stored", lambda: api.get(f"/groups/{target}").status_code == 200
        )
        baseline = len(http_receiver.received)

        ec2 = ec2_client(moto.url, account, "us-east-1")
        ec2.authorize_security_group_ingress(
            GroupId=target,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                }
            ],
        )
        sweep()

        def ssh_alert() -> list[Any]:
            return [
                r.json()
                for r in http_receiver.received[baseline:]
                if r.json().get("data", {}).get("group_id") == target
                and "tcp/22" in json.dumps(r.json())
            ]

        alerts = _until("the webhook alert", ssh_alert)
        assert alerts[0]["type"].endswith("issue.opened")
        mails = _until(
            "the email", lambda: [m for m in smtp_sink.messages if target in m.as_string()]
        )
        assert "tcp/22" in mails[0].as_string()

        revisions = api.get(f"/groups/{target}/revisions").json()
        items = revisions["items"] if isinstance(revisions, dict) else revisions
        assert [r["seq"] for r in items][-2:] in ([1, 2], [2, 1])
        latest = api.get(f"/groups/{target}/revisions/2").json()
        assert latest["change_type"] == "changed"
        assert any("+ ingress tcp/22 from 0.0.0.0/0" in c for c in latest["changes"])
    finally:
        services.stop()  # before the queues go, or their consumers would declare them again
        channel = await rabbit.channel()
        for queue in ("sweeps", "snapshots", "events"):
            for name in (f"e2e.{unique}.{queue}{s}" for s in ("", ".dead", ".undelivered")):
                await channel.queue_delete(name)
        await channel.close()
