"""`make run`: the whole system on this machine, under one supervisor (honcho).

With no account configured it watches a simulated estate in a moto server
(2 accounts x 2 regions x about 50 groups, changed every minute) and delivers alerts
to local sinks under .local/alerts/. With SECMONKEY_ACCOUNTS_FILE set, or accounts
already stored in the database, it watches those instead and skips the simulation.
One Ctrl-C stops everything it started.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shlex
import sys
from pathlib import Path

import vhosts  # deploy/local/vhosts.py, beside this script

from secmonkey.common import storage

ROOT = Path(__file__).resolve().parents[2]
# Overridable so that a test can run a second copy beside a developer's `make run`.
STATE = Path(os.environ.get("SECMONKEY_RUN_STATE", ROOT / ".local" / "run"))
ALERTS = Path(os.environ.get("SECMONKEY_RUN_ALERTS", ROOT / ".local" / "alerts"))
BASE_PORT = int(os.environ.get("SECMONKEY_RUN_BASE_PORT", "8000"))
PORTS = {
    "api": BASE_PORT,
    "collector": BASE_PORT + 1,
    "auditor": BASE_PORT + 2,
    "notifier": BASE_PORT + 3,
}
# The API's probes and metrics have a port of their own (the other services have only one,
# and serve nothing else on it).
API_METRICS_PORT = BASE_PORT + 90
MOTO_PORT = BASE_PORT + 55
SMTP_PORT = BASE_PORT + 25
WEBHOOK_PORT = BASE_PORT + 99
DEMO_DB = os.environ.get("SECMONKEY_RUN_DEMO_DB", "secmonkey_demo")
RUN_VHOST = os.environ.get("SECMONKEY_RUN_VHOST", "secmonkey-run")


async def _stored_accounts(url: str, db: str) -> int:
    client = storage.connect(url)
    try:
        return await client[db]["accounts"].count_documents({})
    finally:
        await client.close()


def _admin_key() -> str:
    path = STATE / "admin-key"
    if not path.exists():
        path.write_text(f"smk_{secrets.token_urlsafe(24)}\n")
        path.chmod(0o600)
    return path.read_text().strip()


def _port(service: str) -> str:
    """Each service's HTTP port, given to that process alone."""
    return (
        f"exec env SECMONKEY_PORT={PORTS[service]} SECMONKEY_AUDITOR_PORT={PORTS[service]} "
        f"SECMONKEY_METRICS_PORT={API_METRICS_PORT} "
    )


def _wait_for(path: Path) -> str:
    """A shell prefix that waits until `path` exists (honcho starts everything at once)."""
    return f"until [ -f {shlex.quote(str(path))} ]; do sleep 0.2; done; "


def main() -> None:
    STATE.mkdir(parents=True, exist_ok=True)
    mongo_url = os.environ.get("SECMONKEY_MONGO_URL", "mongodb://127.0.0.1:27017/")
    configured = os.environ.get("SECMONKEY_ACCOUNTS_FILE")
    real_db = os.environ.get("SECMONKEY_MONGO_DB", "secmonkey")
    demo = not configured and asyncio.run(_stored_accounts(mongo_url, real_db)) == 0
    py = shlex.quote(sys.executable)
    ready = STATE / "subscribed"
    ready.unlink(missing_ok=True)
    accounts_file = STATE / "accounts.yaml"

    amqp_url = os.environ.get("SECMONKEY_AMQP_URL", vhosts.DEFAULT_URL)
    env = {
        # A virtual host of its own: test sessions and benchmarks on this machine use theirs.
        "SECMONKEY_AMQP_URL": vhosts.create(RUN_VHOST, amqp_url),
        "SECMONKEY_MONGO_DB": DEMO_DB if demo else real_db,
        "SECMONKEY_ENVIRONMENT": "development",
        "SECMONKEY_LOG_JSON": "false",
        "SECMONKEY_PUBLIC_URL": f"http://127.0.0.1:{PORTS['api']}",
        "SECMONKEY_BOOTSTRAP_ADMIN_KEY": _admin_key(),
        "SECMONKEY_SMTP_HOST": "127.0.0.1",
        "SECMONKEY_SMTP_PORT": str(SMTP_PORT),
        "SECMONKEY_SMTP_SECURITY": "none",
        "SECMONKEY_WEBHOOK_ALLOW_HTTP": "true",
        "SECMONKEY_WEBHOOK_ALLOW_PRIVATE": "true",
        "SECMONKEY_DEMO_API": f"http://127.0.0.1:{PORTS['api']}",
        "SECMONKEY_DEMO_API_PROBES": f"http://127.0.0.1:{API_METRICS_PORT}",
        "SECMONKEY_DEMO_WEBHOOK": f"http://127.0.0.1:{WEBHOOK_PORT}",
        "SECMONKEY_DEMO_ALERTS": str(ALERTS),
    }
    procs = {
        "sinks": f"{py} deploy/local/sinks.py --folder {ALERTS} --smtp-port {SMTP_PORT} "
        f"--webhook-port {WEBHOOK_PORT}",
        "auditor": f"{_port('auditor')}{py} -m secmonkey.auditor",
        "notifier": f"{_port('notifier')}{py} -m secmonkey.notifier",
        "api": f"{_port('api')}{py} -m secmonkey.api",
        "setup": f"{py} deploy/local/demo.py --ready-file {ready}" + (" --demo" if demo else ""),
    }
    if demo:
        accounts_file.unlink(missing_ok=True)
        env.update(
            {
                "SECMONKEY_AWS_ENDPOINT_URL": f"http://127.0.0.1:{MOTO_PORT}",
                "SECMONKEY_ACCOUNTS_FILE": str(accounts_file),
                "SECMONKEY_SWEEP_INTERVAL_SECONDS": "60",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
            }
        )
        procs["moto"] = (
            f"{py} -m secmonkey.collector.simulate serve --port {MOTO_PORT} --accounts 2 "
            f"--groups 50 --accounts-file {accounts_file} --changes 3 --change-every 60"
        )
        procs["collector"] = (
            _wait_for(accounts_file)
            + _wait_for(ready)
            + (f"{_port('collector')}{py} -m secmonkey.collector")
        )
        asyncio.run(_drop(mongo_url, DEMO_DB))
    else:
        procs["collector"] = _wait_for(ready) + f"{_port('collector')}{py} -m secmonkey.collector"

    procfile = STATE / "Procfile"
    procfile.write_text(
        "".join(f"{name}: sh -c {shlex.quote(cmd)}\n" for name, cmd in procs.items())
    )
    envfile = STATE / "env"
    envfile.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    honcho = str(Path(sys.executable).with_name("honcho"))
    os.chdir(ROOT)
    os.execv(honcho, [honcho, "start", "-f", str(procfile), "-e", str(envfile), "-d", str(ROOT)])  # noqa: S606


async def _drop(url: str, name: str) -> None:
    """Each demo starts from an empty database: the simulated estate is new each time."""
    client = storage.connect(url)
    try:
        await client.drop_database(name)
    finally:
        await client.close()


if __name__ == "__main__":
    main()
