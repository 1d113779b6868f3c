"""Process management shared by the benchmarks that start the pipeline as separate
processes (bench/realtime, bench/chaos, bench/soak): free ports, waiting for a port,
percentiles, and a registry of named child processes that can be killed, frozen and
started again with the same command line.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers(port):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing answered on port {port} within {timeout}s")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def rss_kib(pid: int) -> int:
    """Resident memory of a process (KiB), 0 when it is gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    starts: int = field(default=0)


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


class Processes:
    """Named child processes, each logging to `<logs>/<name>.log` (appended on restart)."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.children: dict[str, Child] = {}
        # A run stopped with SIGTERM (kill, timeout) unwinds like Ctrl-C, so the caller's
        # `finally: stop_all()` runs instead of leaving every child behind.
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _terminated)

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        child = self.children.get(name) or Child(name, argv, env or {})
        self.children[name] = child
        self.start(name)
        return child

    def start(self, name: str) -> None:
        child = self.children[name]
        self.logs.mkdir(parents=True, exist_ok=True)
        log = (self.logs / f"{name}.log").open("ab")
        child.proc = subprocess.Popen(  # noqa: S603 - our own command lines
            child.argv,
            env={**os.environ, **child.env},
            stdout=log,
            stderr=log,
            start_new_session=True,  # its own process group: signals reach its children too
        )
        child.starts += 1
        log.close()

    def pid(self, name: str) -> int:
        proc = self.children[name].proc
        assert proc is not None
        return proc.pid

    def signal(self, name: str, sig: signal.Signals) -> None:
        """Signal the child's process group (a wrapper script's children included)."""
        proc = self.children[name].proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)

    def kill(self, name: str) -> None:
        """SIGKILL the child's process group, then wait for the child to be gone."""
        proc = self.children[name].proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)

    def crashed(self) -> list[str]:
        return [c.name for c in self.children.values() if c.proc and c.proc.poll() is not None]

    def stop_all(self, timeout: float = 15.0) -> None:
        """Continue frozen ones, terminate every child (newest first), kill stragglers."""
        live = [
            c.proc for c in reversed(self.children.values()) if c.proc and c.proc.poll() is None
        ]
        for proc in live:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGCONT)
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in live:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout)
