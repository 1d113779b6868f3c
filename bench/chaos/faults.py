"""The faults, one at a time: how each is injected and undone, and its default hold."""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from bench.chaos.system import SERVICES, System

# The queue whose unacknowledged messages show that a service is mid-work.
WORK_QUEUE = {"auditor": "auditor.", "notifier": "notifier.", "collector": "sweeps"}


@dataclass
class Fault:
    name: str
    hold: float
    what: str
    inject: Callable[[System], str | None]
    restore: Callable[[System], Any]


def _busy_then_kill(service: str) -> Callable[[System], str | None]:
    """Ask for a sweep, wait (≤ 10 s) until the service holds unacknowledged work, SIGKILL it.

    With several replicas, the one killed is the replica holding the most unacknowledged
    messages (else the first); `_restart` starts that one again.
    """

    def inject(system: System) -> str | None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(
                f"{system.url('api')}/api/v1/sweeps",
                json={},
                headers={"Authorization": f"Bearer {system.admin_key}"},
                timeout=10,
            )
        prefix = WORK_QUEUE.get(service)
        deadline = time.monotonic() + 10
        busy = False
        while prefix and not busy and time.monotonic() < deadline:
            busy = any(u for n, (_, u) in system.depths().items() if prefix in n)
            time.sleep(0 if busy else 0.2)
        victim = service
        if len(system.replicas[service]) > 1:
            victim = (system.busy_replica(service) if busy else None) or service
        system.killed[service] = victim
        system.processes.kill(victim)
        which = f"{victim}-" if victim != service else ""
        return None if not prefix else (f"{which}killed-busy" if busy else f"{which}killed-idle")

    return inject


def _restart(service: str) -> Callable[[System], Any]:
    """Start again the replica of `service` that `_busy_then_kill` killed."""
    return lambda system: system.restart(system.killed.pop(service, service))


def _signal(name: str, sig: signal.Signals) -> Callable[[System], Any]:
    return lambda system: system.processes.signal(name, sig)


def _kill(name: str) -> Callable[[System], Any]:
    return lambda system: system.processes.kill(name)


def _start(name: str) -> Callable[[System], Any]:
    return lambda system: system.restart(name)


def catalogue() -> dict[str, Fault]:
    """Every fault with its default hold (seconds), in the order they run."""
    faults = [
        Fault(
            "rabbit",
            60,
            "RabbitMQ node stopped",
            lambda s: s.rabbit.stop(),
            lambda s: s.rabbit.start(),
        ),
        Fault(
            "mongo-freeze",
            900,
            "MongoDB-protocol server SIGSTOPped",
            _signal("mongo", signal.SIGSTOP),
            _signal("mongo", signal.SIGCONT),
        ),
        Fault(
            "mongo-restart",
            5,
            "MongoDB-protocol server SIGKILLed, restarted",
            _kill("mongo"),
            lambda s: s.mongo.start(),
        ),
    ]
    faults += [
        Fault(
            f"kill-{svc}",
            0,
            f"{svc} SIGKILLed mid-work, restarted",
            _busy_then_kill(svc),
            _restart(svc),
        )
        for svc in SERVICES
    ]
    faults += [
        Fault(
            "webhook-refuse",
            600,
            "webhook receiver down (connections refused)",
            _kill("webhook"),
            _start("webhook"),
        ),
        Fault(
            "webhook-hang",
            120,
            "webhook receiver SIGSTOPped (connections hang)",
            _signal("webhook", signal.SIGSTOP),
            _signal("webhook", signal.SIGCONT),
        ),
        Fault(
            "smtp-down", 600, "SMTP relay down (connections refused)", _kill("smtp"), _start("smtp")
        ),
    ]
    return {f.name: f for f in faults}
