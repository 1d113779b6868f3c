"""The whole system as `make run` starts it, on a private broker node and database server.

moto filled and changed by `python -m secmonkey.collector.simulate serve`, the four
services as separate processes (with `--replicas`, several processes of a service: the
first is named after the service, the others `<service>-2`, `<service>-3` …), a webhook sink and an SMTP sink (bench/chaos/sinks.py),
and two immediate subscriptions for every event type (a generic webhook and an email),
created through the API with the bootstrap admin key. Counting reads the run's `events`
collection and the sinks' files; queue depths come from `rabbitmqctl` on the private node.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import httpx
from pymongo import MongoClient

from bench.chaos.infra import Mongo, Rabbit
from bench.harness import Processes, free_port, wait_port

HERE = Path(__file__).resolve().parent
SERVICES = ("auditor", "notifier", "api", "collector")
CHANNELS = ("webhook", "email")


@dataclass
class Arrival:
    event_id: str
    arrival: float
    event_time: float


def replica_names(service: str, count: int) -> list[str]:
    """`auditor`, `auditor-2`, `auditor-3` …: the first keeps the service's name (and log)."""
    return [service] + [f"{service}-{i}" for i in range(2, max(1, count) + 1)]


def parse_replicas(text: str) -> dict[str, int]:
    """`collector=2,auditor=3` -> {"collector": 2, "auditor": 3} (unnamed services: 1)."""
    counts: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        service, _, number = part.partition("=")
        if service not in SERVICES or not number.isdigit() or int(number) < 1:
            raise ValueError(f"--replicas: {part!r} is not <service>=<count ≥ 1> ({SERVICES})")
        counts[service] = int(number)
    return counts


def unacked_by_peer_port(rabbit: Rabbit) -> dict[int, int]:
    """Client port -> unacknowledged messages on that connection's channels (the node's)."""
    try:
        channels = rabbit.ctl("list_channels", "connection", "messages_unacknowledged")
        connections = rabbit.ctl("list_connections", "pid", "peer_port")
    except (RuntimeError, OSError):
        return {}
    ports = {}
    for line in connections.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            ports[parts[0]] = int(parts[1])
    held: dict[int, int] = defaultdict(int)
    for line in channels.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] in ports:
            held[ports[parts[0]]] += int(parts[1])
    return dict(held)


def pid_of_local_port(port: int, pids: list[int]) -> int | None:
    """Which of `pids` owns the loopback TCP socket whose local port is `port` (Linux /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        return pid
    return None


class System:
    def __init__(self, args: argparse.Namespace, name: str) -> None:
        self.args = args
        self.suffix = uuid.uuid4().hex[:8]
        self.state = Path(tempfile.gettempdir()) / f"secmonkey-{name}-{self.suffix}"
        self.processes = Processes(self.state / "logs")
        self.rabbit = Rabbit(self.processes, self.state, self.suffix)
        self.mongo = Mongo(self.processes, self.state)
        self.db_name = f"{name}_{self.suffix}"
        counts: dict[str, int] = getattr(args, "replicas", None) or {}
        self.replicas = {s: replica_names(s, counts.get(s, 1)) for s in SERVICES}
        names = self.all_replicas()
        self.ports = {s: free_port() for s in (*names, "moto", "webhook", "smtp")}
        # The API serves probes and metrics on a port of their own; the others on their only one.
        self.probe_ports = {s: self.ports[s] for s in names}
        self.probe_ports |= {n: free_port() for n in self.replicas["api"]}
        self.killed: dict[str, str] = {}  # service -> the replica a kill fault stopped
        self.admin_key = f"smk_{secrets.token_urlsafe(24)}"
        self.accounts_file = self.state / "accounts.yaml"
        self.sink_files = {c: self.state / f"{c}.alerts" for c in CHANNELS}
        self.client: MongoClient[dict[str, object]] | None = None
        self.counted_from = 0.0  # set once the subscriptions exist

    # --- starting -------------------------------------------------------------
    def start(self) -> None:
        print(f"state and logs in {self.state}", flush=True)
        self.rabbit.start()
        self.rabbit.ensure_vhost()
        self.mongo.start()
        self.client = MongoClient(self.mongo.url, tz_aware=True, serverSelectionTimeoutMS=10000)
        a = self.args
        self.processes.spawn(
            "moto",
            [
                sys.executable,
                "-m",
                "secmonkey.collector.simulate",
                "serve",
                "--port",
                str(self.ports["moto"]),
                "--accounts",
                str(a.accounts),
                "--groups",
                str(a.groups),
                "--accounts-file",
                str(self.accounts_file),
                "--changes",
                str(a.changes),
                "--change-every",
                str(a.change_every),
            ],
            {"MOTO_EC2_LOAD_DEFAULT_AMIS": "false", **self.aws_env()},
        )
        for sink, channel in (("webhook", "webhook"), ("smtp", "email")):
            self.processes.spawn(
                sink,
                [
                    sys.executable,
                    str(HERE / "sinks.py"),
                    sink,
                    str(self.ports[sink]),
                    str(self.sink_files[channel]),
                ],
            )
            wait_port(self.ports[sink])
        for service in ("auditor", "notifier", "api"):
            for name in self.replicas[service]:
                self.processes.spawn(
                    name, [sys.executable, "-m", f"secmonkey.{service}"], self.service_env(name)
                )
        self.wait_ready("api", timeout=120)
        self.subscribe()
        deadline = time.monotonic() + 600
        while not self.accounts_file.exists():
            if time.monotonic() > deadline or self.processes.crashed():
                raise SystemExit(f"the simulated estate did not fill: {self.processes.crashed()}")
            time.sleep(0.5)
        for name in self.replicas["collector"]:
            self.processes.spawn(
                name, [sys.executable, "-m", "secmonkey.collector"], self.service_env(name)
            )
        for name in self.all_replicas():
            self.wait_ready(name, timeout=120)

    def all_replicas(self) -> list[str]:
        """The process names of every service's replicas."""
        return [name for service in SERVICES for name in self.replicas[service]]

    @staticmethod
    def service_of(name: str) -> str | None:
        """The service a process name is a replica of (None: not a service)."""
        service = name.split("-", 1)[0]
        return service if service in SERVICES else None

    def aws_env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
            "AWS_CONFIG_FILE": "/nonexistent",
        }

    def service_env(self, service: str) -> dict[str, str]:
        """The environment of `service` (a process name: a replica gets its own ports)."""
        env = {
            "SECMONKEY_AMQP_URL": self.rabbit.url,
            "SECMONKEY_MONGO_URL": self.mongo.url,
            "SECMONKEY_MONGO_DB": self.db_name,
            "SECMONKEY_ENVIRONMENT": "development",
            "SECMONKEY_LOG_JSON": "true",
            "SECMONKEY_LOG_LEVEL": self.args.log_level,
            "SECMONKEY_PORT": str(self.ports[service]),
            "SECMONKEY_AUDITOR_PORT": str(self.ports[service]),
            "SECMONKEY_METRICS_PORT": str(self.probe_ports[service]),
            "SECMONKEY_PUBLIC_URL": f"http://127.0.0.1:{self.ports['api']}",
            "SECMONKEY_BOOTSTRAP_ADMIN_KEY": self.admin_key,
            "SECMONKEY_SMTP_HOST": "127.0.0.1",
            "SECMONKEY_SMTP_PORT": str(self.ports["smtp"]),
            "SECMONKEY_SMTP_SECURITY": "none",
            "SECMONKEY_WEBHOOK_ALLOW_HTTP": "true",
            "SECMONKEY_WEBHOOK_ALLOW_PRIVATE": "true",
            "SECMONKEY_AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.ports['moto']}",
            "SECMONKEY_ACCOUNTS_FILE": str(self.accounts_file),
            "SECMONKEY_SWEEP_INTERVAL_SECONDS": str(self.args.sweep_interval),
            **self.aws_env(),
        }
        env.update(kv.split("=", 1) for kv in self.args.service_env)
        return env

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def probe_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.probe_ports[service]}"

    def wait_ready(self, service: str, timeout: float) -> float:
        """Seconds until `/readyz` answers 200 (raises when it never does)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.probe_url(service)}/readyz", timeout=2).status_code == 200:
                    return time.monotonic() - started
            if service in self.processes.crashed():
                break
            time.sleep(0.5)
        raise SystemExit(f"{service} not ready within {timeout:.0f}s; logs in {self.state}/logs")

    def all_ready(self) -> bool:
        """Every replica of every service answers `/readyz` with 200."""
        for service in self.all_replicas():
            try:
                if httpx.get(f"{self.probe_url(service)}/readyz", timeout=2).status_code != 200:
                    return False
            except httpx.HTTPError:
                return False
        return True

    def subscribe(self) -> None:
        headers = {"Authorization": f"Bearer {self.admin_key}"}
        for body in (
            {
                "name": "chaos webhook",
                "channel": {
                    "type": "generic",
                    "url": f"http://127.0.0.1:{self.ports['webhook']}/hook",
                    "secret": "chaos-webhook-secret-0123456789",
                },
            },
            {"name": "chaos email", "channel": {"type": "email", "to": ["chaos@example.com"]}},
        ):
            answer = httpx.post(
                f"{self.url('api')}/api/v1/subscriptions",
                json={**body, "mode": "immediate"},
                headers=headers,
                timeout=30,
            )
            answer.raise_for_status()
        # Events from before both subscriptions existed (their own `admin.subscription.created`
        # among them) match at most one of them: counting starts after.
        self.counted_from = time.time()

    def restart(self, name: str) -> None:
        self.processes.start(name)

    def sweep_now(self) -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(
                f"{self.url('api')}/api/v1/sweeps",
                json={},
                headers={"Authorization": f"Bearer {self.admin_key}"},
                timeout=10,
            )

    def busy_replica(self, service: str) -> str | None:
        """The replica of `service` holding the most unacknowledged messages (None: none does)."""
        held = unacked_by_peer_port(self.rabbit)
        if not held:
            return None
        by_pid = {self.processes.pid(n): n for n in self.replicas[service]}
        counts = dict.fromkeys(self.replicas[service], 0)
        for port, unacked in held.items():
            name = by_pid.get(pid_of_local_port(port, list(by_pid)) or -1)
            if name is not None:
                counts[name] += unacked
        name, most = max(counts.items(), key=lambda kv: kv[1])
        return name if most else None

    # --- counting -------------------------------------------------------------
    def events(self) -> dict[str, float]:
        """event id -> `at` (unix seconds) of every event the subscriptions match (all events
        since both subscriptions exist)."""
        assert self.client is not None
        docs = self.client[self.db_name]["events"].find({}, {"_id": 1, "at": 1})
        at = {str(d["_id"]): d["at"].timestamp() for d in docs}
        return {event_id: t for event_id, t in at.items() if t >= self.counted_from}

    def arrivals(self) -> dict[str, dict[str, list[Arrival]]]:
        """channel -> event id -> every arrival of that alert."""
        seen: dict[str, dict[str, list[Arrival]]] = {c: defaultdict(list) for c in CHANNELS}
        for channel, path in self.sink_files.items():
            if not path.exists():
                continue
            for line in path.read_text().splitlines():
                parts = line.split()
                if len(parts) == 5:
                    seen[channel][parts[1]].append(
                        Arrival(parts[1], float(parts[3]), float(parts[4]))
                    )
        return seen

    def pending_deliveries(self) -> int:
        """Deliveries the notifier still has to make or retry (`delivery_schedule`)."""
        assert self.client is not None
        return int(
            self.client[self.db_name]["delivery_schedule"].count_documents({"status": "pending"})
        )

    def ambiguous_deliveries(self) -> int:
        """Deliveries with an attempt sent and never answered (`unknown` outcome)."""
        assert self.client is not None
        docs = self.client[self.db_name]["deliveries"].find({}, {"attempts": 1})
        return sum(
            1 for d in docs if any(a.get("outcome") == "unknown" for a in d.get("attempts") or [])
        )

    def depths(self) -> dict[str, tuple[int, int]]:
        return self.rabbit.queues()

    @staticmethod
    def backlog(depths: dict[str, tuple[int, int]]) -> int:
        return sum(
            r + u for n, (r, u) in depths.items() if not n.endswith((".dead", ".undelivered"))
        )

    @staticmethod
    def dead_lettered(depths: dict[str, tuple[int, int]]) -> int:
        return sum(r + u for n, (r, u) in depths.items() if n.endswith((".dead", ".undelivered")))

    def undelivered(self, until: float | None = None) -> int:
        """Alerts not yet received, over both channels, for events at or before `until`."""
        events = self.events()
        seen = self.arrivals()
        return sum(
            1
            for event_id, at in events.items()
            for channel in CHANNELS
            if (until is None or at <= until) and event_id not in seen[channel]
        )

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
        if "rabbit" in self.processes.children and "rabbit" not in self.processes.crashed():
            self.rabbit.stop()
        self.processes.stop_all()
