"""The setup step of `make run`: subscriptions to the local sinks, then where to look.

Runs under honcho beside the services. It waits for the API, creates (once) two
subscriptions through the API with the admin key, writes the ready file that lets the
collector start sweeping, prints a summary, and then stays up (honcho stops the whole
group when any process ends).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

API = os.environ.get("SECMONKEY_DEMO_API", "http://127.0.0.1:8000")
PROBES = os.environ.get("SECMONKEY_DEMO_API_PROBES", "http://127.0.0.1:9100")
WEBHOOK = os.environ.get("SECMONKEY_DEMO_WEBHOOK", "http://127.0.0.1:8099")
ALERTS = Path(os.environ.get("SECMONKEY_DEMO_ALERTS", ".local/alerts"))


def wait_for_api(timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{PROBES}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    sys.exit(f"[setup] the API did not become ready at {API} within {timeout:.0f}s")


SUBSCRIPTIONS: list[dict[str, Any]] = [
    {
        "name": "chat: new high and critical issues",
        "filters": {
            "event_types": ["issue.opened", "issue.reopened", "issue.escalated"],
            "min_severity": "high",
        },
        "channel": {
            "type": "generic",
            "url": f"{WEBHOOK}/chat",
            "secret": "demo-webhook-secret-0001",
        },
        "mode": "immediate",
    },
    {
        "name": "security team: every change, by email",
        "filters": {
            "event_types": ["group.created", "group.changed", "group.deleted", "group.restored"]
        },
        "channel": {"type": "email", "to": ["security-team@example.com"]},
        "mode": "digest",
        "digest_minutes": 1,
    },
]


def subscribe(key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    existing = httpx.get(f"{API}/api/v1/subscriptions", headers=headers, timeout=10)
    existing.raise_for_status()
    names = {s["name"] for s in existing.json()}
    for sub in SUBSCRIPTIONS:
        if sub["name"] in names:
            continue
        response = httpx.post(f"{API}/api/v1/subscriptions", json=sub, headers=headers, timeout=10)
        if response.status_code >= 400:
            sys.exit(f"[setup] could not create subscription {sub['name']!r}: {response.text}")


def summary(key: str, demo: bool) -> str:
    alerts = ALERTS.resolve()
    secmonkey = Path(sys.executable).with_name("secmonkey")
    cli = f"SECMONKEY_URL={API} SECMONKEY_API_KEY={key} {secmonkey}"
    lines = [
        "",
        "=" * 78,
        "secmonkey is running" + (" against a simulated AWS estate (moto)" if demo else ""),
        f"  API docs      {API}/docs",
        f"  console       {API}/",
        f"  HTML report   {API}/api/v1/report?format=html   (Authorization: Bearer <key>)",
        f"  admin key     {key}",
        f"  alerts        webhooks -> {alerts}/webhook/   email -> {alerts}/email/",
        "  try:",
        f"    {cli} groups",
        f"    {cli} issues --min-severity high",
        f"    {cli} search ip 203.0.113.10",
        f"    {cli} events",
        "  Ctrl-C stops everything.",
        "=" * 78,
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--demo", action="store_true")
    args = parser.parse_args()
    key = os.environ["SECMONKEY_BOOTSTRAP_ADMIN_KEY"]
    wait_for_api()
    subscribe(key)
    args.ready_file.write_text("ok\n")
    print(summary(key, args.demo), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()


if __name__ == "__main__":
    main()
