"""A private RabbitMQ node and a private MongoDB-protocol server for one harness run.

Faults are injected into these alone: the machine's shared broker (5672) and server
(27017) are never touched. The node has its own cookie (in its own HOME), name, ports
and data directory, all under the run's temporary folder; the server is
deploy/local/mongo-compat (FerretDB over SQLite) on its own port and data directory,
built into .local/bin as `make up` builds it.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

from bench.harness import Processes, free_port, wait_port

ROOT = Path(__file__).resolve().parents[2]
RABBIT_BIN = Path(os.environ.get("SECMONKEY_CHAOS_RABBIT_BIN", "/usr/lib/rabbitmq/bin"))
RABBIT_CONFIG = ROOT / "deploy" / "rabbitmq" / "rabbitmq.conf"


def mongo_compat_binary() -> Path:
    """deploy/local/mongo-compat built into .local/bin by its build.sh (with its patches),
    rebuilt when its source changed: the same binary and stamp as deploy/local/up.sh's."""
    src = ROOT / "deploy" / "local" / "mongo-compat"
    binary = ROOT / ".local" / "bin" / "mongo-compat"
    # In up.sh's order: `cat *.go go.mod go.sum build.sh patches/*.patch | sha256sum`.
    files = sorted(src.glob("*.go")) + [src / "go.mod", src / "go.sum", src / "build.sh"]
    files += sorted((src / "patches").glob("*.patch"))
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()
    stamp = binary.with_name("mongo-compat.sum")
    if binary.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return binary
    if shutil.which("go") is None:
        raise SystemExit("Go is needed to build deploy/local/mongo-compat")
    print("building mongo-compat (first build takes a few minutes) ...", flush=True)
    binary.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(src / "build.sh"), str(binary)], check=True)
    stamp.write_text(digest + "\n")
    return binary


class Mongo:
    """mongo-compat on a free loopback port; SIGSTOP/SIGCONT/SIGKILL and restart."""

    def __init__(self, processes: Processes, state: Path) -> None:
        self.processes = processes
        self.port = free_port()
        self.url = f"mongodb://127.0.0.1:{self.port}/"
        binary = mongo_compat_binary()
        data = state / "mongo-data"
        data.mkdir(parents=True, exist_ok=True)
        self.argv = [str(binary), "-listen", f"127.0.0.1:{self.port}", "-data", str(data)]

    def start(self) -> None:
        self.processes.spawn("mongo", self.argv)
        wait_port(self.port, timeout=60)


class Rabbit:
    """A RabbitMQ node of its own (`chaos-<id>@localhost`), stopped and started whole."""

    def __init__(self, processes: Processes, state: Path, suffix: str) -> None:
        self.processes = processes
        self.node = f"chaos{suffix}@localhost"
        self.port = free_port()
        home = state / "rabbit-home"
        home.mkdir(parents=True, exist_ok=True)
        cookie = home / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(secrets.token_hex(20))
            cookie.chmod(0o400)
        plugins = state / "rabbit-plugins"
        plugins.write_text("[].\n")
        self.env = {
            "HOME": str(home),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(state / "rabbit-mnesia"),
            "RABBITMQ_LOG_BASE": str(state / "rabbit-log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
            "RABBITMQ_CONFIG_FILE": str(RABBIT_CONFIG),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }
        self.vhost = f"chaos-{suffix}"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/{self.vhost}"

    def ctl(self, *args: str, tool: str = "rabbitmqctl", timeout: float = 60) -> str:
        """A CLI command against this node only (its name and its private cookie)."""
        done = subprocess.run(  # noqa: S603 - fixed program, our arguments
            [str(RABBIT_BIN / tool), "-n", self.node, "-q", *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)}: {done.stderr.strip() or done.stdout}")
        return done.stdout

    def start(self, timeout: float = 120) -> None:
        if not (RABBIT_BIN / "rabbitmq-server").exists():
            raise SystemExit("RabbitMQ is not installed: `make up` installs it (as root)")
        if "rabbit" in self.processes.children:
            self.processes.start("rabbit")
        else:
            self.processes.spawn("rabbit", [str(RABBIT_BIN / "rabbitmq-server")], self.env)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.ctl("ping", tool="rabbitmq-diagnostics", timeout=20)
                self.ctl("await_startup", timeout=max(5.0, deadline - time.monotonic()))
                break
            except (RuntimeError, subprocess.TimeoutExpired):
                if time.monotonic() > deadline or "rabbit" in self.processes.crashed():
                    raise SystemExit(f"private RabbitMQ {self.node} did not start") from None
                time.sleep(1)
        wait_port(self.port, timeout=30)

    def ensure_vhost(self) -> None:
        if self.vhost not in self.ctl("list_vhosts", "name").split():
            self.ctl("add_vhost", self.vhost)
        self.ctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")

    def stop(self) -> None:
        """Stop the whole node (the Erlang VM), as an outage would."""
        try:
            self.ctl("stop", timeout=60)
        except (RuntimeError, subprocess.TimeoutExpired):
            self.processes.kill("rabbit")
        child = self.processes.children["rabbit"].proc
        if child is not None:
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.processes.kill("rabbit")

    def queues(self) -> dict[str, tuple[int, int]]:
        """name -> (ready, unacknowledged) in the run's virtual host; {} when unreachable."""
        try:
            out = self.ctl(
                "list_queues",
                "-p",
                self.vhost,
                "name",
                "messages_ready",
                "messages_unacknowledged",
                timeout=30,
            )
        except (RuntimeError, subprocess.TimeoutExpired):
            return {}
        depths = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                depths[parts[0]] = (int(parts[1]), int(parts[2]))
        return depths
