"""Three RabbitMQ nodes of the Debian package on one machine, as a cluster.

Each node has its own name (`<prefix>1@localhost` …), AMQP and distribution ports, data
and log directories under one base directory, and a private Erlang cookie (so the nodes
never meet the machine's default node on 5672). Used by the cluster test and `make
chaos`; by hand:

    python deploy/local/cluster.py up --dir /tmp/smcluster --port 5701    # 5701-5703
    python deploy/local/cluster.py stop-node --dir /tmp/smcluster 2
    python deploy/local/cluster.py start-node --dir /tmp/smcluster 2
    python deploy/local/cluster.py down --dir /tmp/smcluster

`SECMONKEY_AMQP_URL` then lists the three nodes, comma-separated (`Cluster.url`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

BIN = Path("/usr/lib/rabbitmq/bin")
SHARED_CONFIG = Path(__file__).resolve().parents[1] / "rabbitmq" / "rabbitmq.conf"


@dataclass
class Node:
    index: int
    name: str
    port: int
    dist_port: int
    home: Path

    def env(self) -> dict[str, str]:
        base = self.home
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("RABBITMQ_")},
            "HOME": str(base.parent),  # holds the private .erlang.cookie
            "PATH": f"{os.environ.get('PATH', '')}:/usr/sbin:{BIN}",
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_PID_FILE": str(base / "node.pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - fixed program, our own arguments
            [str(BIN / "rabbitmqctl"), "-n", self.name, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@dataclass
class Cluster:
    base: Path
    nodes: list[Node]
    user: str = "guest"
    password: str = "guest"  # noqa: S105 - loopback-only test broker

    @property
    def url(self) -> str:
        """Every node's address, comma-separated (what `SECMONKEY_AMQP_URL` accepts)."""
        return ",".join(
            f"amqp://{self.user}:{self.password}@127.0.0.1:{n.port}/" for n in self.nodes
        )

    def node_url(self, index: int) -> str:
        n = self.nodes[index - 1]
        return f"amqp://{self.user}:{self.password}@127.0.0.1:{n.port}/"

    def start_node(self, index: int, timeout: float = 300) -> None:
        node = self.nodes[index - 1]
        for sub in ("mnesia", "log"):
            (node.home / sub).mkdir(parents=True, exist_ok=True)
        (node.home / "enabled_plugins").write_text("[].\n")
        # The settings secmonkey relies on (consumer_timeout), as for the local broker.
        (node.home / "rabbitmq.conf").write_text(SHARED_CONFIG.read_text())
        (node.home / "advanced.config").write_text("[].\n")
        (node.home / "rabbitmq-env.conf").write_text("")
        log = (node.home / "server.out").open("ab")
        subprocess.Popen(  # noqa: S603 - fixed program
            [str(BIN / "rabbitmq-server")],
            env=node.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # rabbitmqctl is an Erlang VM of its own: slow to start on a busy machine.
            with contextlib.suppress(subprocess.TimeoutExpired):
                if node.ctl("await_startup", timeout=120).returncode == 0:
                    return
            time.sleep(1)
        raise RuntimeError(f"node {node.name} did not start; see {node.home}/log")

    def stop_node(self, index: int) -> None:
        """Stop one node the hard way (as if its machine went away): SIGKILL."""
        node = self.nodes[index - 1]
        pid_file = node.home / "node.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().strip() or 0)
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            pid_file.unlink(missing_ok=True)

    def down(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                node.ctl("stop", timeout=60)
            self.stop_node(node.index)
        shutil.rmtree(self.base, ignore_errors=True)


def plan(base: Path, port: int, prefix: str = "smq") -> Cluster:
    """Three nodes on ports `port`..`port+2` (distribution: `port+100`..)."""
    nodes = [
        Node(i, f"{prefix}{i}@localhost", port + i - 1, port + 100 + i - 1, base / f"node{i}")
        for i in (1, 2, 3)
    ]
    return Cluster(base, nodes)


def up(base: Path, port: int, prefix: str = "smq") -> Cluster:
    """Start three nodes and join nodes 2 and 3 to node 1."""
    base.mkdir(parents=True, exist_ok=True)
    cookie = base / ".erlang.cookie"
    if not cookie.exists():
        cookie.write_text(secrets.token_hex(20))
        cookie.chmod(0o400)
    cluster = plan(base, port, prefix)
    (base / "cluster.json").write_text(json.dumps({"port": port, "prefix": prefix}))
    try:
        for i in (1, 2, 3):
            cluster.start_node(i)
        first = cluster.nodes[0].name
        for node in cluster.nodes[1:]:
            for args in (("stop_app",), ("join_cluster", first), ("start_app",)):
                done = node.ctl(*args, timeout=180)
                if done.returncode != 0:
                    raise RuntimeError(f"{node.name} {args[0]}: {done.stderr or done.stdout}")
    except BaseException:
        cluster.down()  # no node left behind
        raise
    return cluster


def load(base: Path) -> Cluster:
    saved = json.loads((base / "cluster.json").read_text())
    return plan(base, int(saved["port"]), saved["prefix"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "stop-node", "start-node"])
    parser.add_argument("node", nargs="?", type=int)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/secmonkey-cluster"))  # noqa: S108
    parser.add_argument("--port", type=int, default=5701)
    args = parser.parse_args()
    if args.command == "up":
        cluster = up(args.dir, args.port)
        print(cluster.url)
    elif args.command == "down":
        load(args.dir).down()
    elif args.command == "stop-node":
        load(args.dir).stop_node(args.node)
    else:
        load(args.dir).start_node(args.node)


if __name__ == "__main__":
    main()
