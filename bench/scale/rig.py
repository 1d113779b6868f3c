"""The AWS stand-in for `make bench-scale`: N moto processes behind a router, sharded by
account, with AWS-like latency and EC2's throttling. Not part of the product.

moto maps an access key to its account inside one process, so a key issued by one shard
is unknown to the others: the router sends each STS `AssumeRole` to the shard of the
account in its `RoleArn` and learns the returned access key -> shard (and -> account);
every other call goes to the shard of the access key in its `Authorization` header (the
hub's own key goes to shard 0). Each answer waits `latency_ms` plus `per_item_ms` per
`<item>` in it; EC2 calls take a token from a bucket per account and region (`burst`,
refilled at `rate` per second, EC2's documented describe bucket is 100 and 20/s) and
an empty bucket answers HTTP 503 `RequestLimitExceeded` with EC2's XML error body.

    python -m bench.scale.rig up --shards 4 --accounts 100 --regions 17 --groups 20
    python -m bench.scale.rig status      # the running rig (state file), reused across runs
    python -m bench.scale.rig down

`up` with a running rig of the same shape reuses it (moto cannot save its state, and
seeding is the slow part); a different shape stops it and starts another.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.harness import answers, free_port, wait_port

STATE = Path(__file__).resolve().parent / ".rig.json"
REGIONS = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "sa-east-1",
]
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/")
ROLE_ACCOUNT = re.compile(r"arn:aws[\w-]*:iam::(\d{12}):role/")
ACCESS_KEY = re.compile(rb"<AccessKeyId>([^<]+)</AccessKeyId>")
THROTTLED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
    "<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
    "</Error></Errors><RequestID>{id}</RequestID></Response>"
)
HOP_BY_HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive"}


@dataclass
class RigConfig:
    shards: int = 2
    accounts: int = 2
    regions: list[str] = field(default_factory=lambda: ["us-east-1"])
    groups: int = 20
    latency_ms: float = 50.0
    per_item_ms: float = 0.05
    burst: float = 100.0
    rate: float = 20.0

    def shape(self) -> dict[str, Any]:
        return {
            "shards": self.shards,
            "accounts": self.accounts,
            "regions": self.regions,
            "groups": self.groups,
        }


def account_ids(count: int) -> list[str]:
    return [f"{200000000000 + n:012d}" for n in range(count)]


def shard_of(account_id: str, shards: int) -> int:
    return int(account_id) % shards


class Bucket:
    """EC2's token bucket: `burst` tokens, refilled at `rate` per second."""

    def __init__(self, burst: float, rate: float) -> None:
        self.burst, self.rate = burst, rate
        self.tokens, self.at = burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Router:
    """The ASGI app in front of the shards."""

    def __init__(self, shard_urls: list[str], config: RigConfig) -> None:
        self.shards = shard_urls
        self.config = config
        self.key_shard: dict[str, int] = {}
        self.key_account: dict[str, str] = {}
        self.buckets: dict[tuple[str, str], Bucket] = {}
        self.throttled = 0
        self.calls = 0
        self.client = httpx.AsyncClient(
            timeout=300, limits=httpx.Limits(max_connections=512, max_keepalive_connections=512)
        )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await self.client.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k.decode(), v.decode()) for k, v in scope["headers"]]
        if scope["path"] == "/rig/stats":
            stats = {"calls": self.calls, "throttled": self.throttled, "keys": len(self.key_shard)}
            await self._answer(
                send, 200, [("content-type", "application/json")], json.dumps(stats).encode()
            )
            return
        status, out_headers, content = await self.route(scope, headers, body)
        await self._answer(send, status, out_headers, content)

    async def route(
        self, scope: dict[str, Any], headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        self.calls += 1
        auth = next((v for k, v in headers if k.lower() == "authorization"), "")
        match = CREDENTIAL.search(auth)
        key, region, service = match.groups() if match else ("", "us-east-1", "")
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace")) if body else {}
        query = scope.get("query_string", b"").decode()
        action = (form.get("Action") or urllib.parse.parse_qs(query).get("Action") or [""])[0]
        role_account = None
        if service == "sts" and action == "AssumeRole":
            found = ROLE_ACCOUNT.search((form.get("RoleArn") or [""])[0])
            role_account = found.group(1) if found else None
        if role_account is not None:
            shard = shard_of(role_account, len(self.shards))
        else:
            shard = self.key_shard.get(key, 0)
        account = self.key_account.get(key)
        if service == "ec2" and account is not None:
            bucket = self.buckets.setdefault(
                (account, region), Bucket(self.config.burst, self.config.rate)
            )
            if not bucket.take():
                self.throttled += 1
                await asyncio.sleep(self.config.latency_ms / 1000)
                content = THROTTLED.format(id=os.urandom(8).hex()).encode()
                return 503, [("content-type", "text/xml")], content
        started = time.monotonic()
        answer = await self.client.request(
            scope["method"],
            self.shards[shard] + scope["path"] + (f"?{query}" if query else ""),
            headers=[(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP],
            content=body,
        )
        content = answer.content
        if role_account is not None and answer.status_code == 200:
            issued = ACCESS_KEY.search(content)
            if issued:
                self.key_shard[issued.group(1).decode()] = shard
                self.key_account[issued.group(1).decode()] = role_account
        wait = (self.config.latency_ms + self.config.per_item_ms * content.count(b"<item>")) / 1000
        await asyncio.sleep(max(0.0, wait - (time.monotonic() - started)))
        out = [(k, v) for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP]
        return answer.status_code, out, content

    @staticmethod
    async def _answer(send: Any, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        raw = [(k.encode(), v.encode()) for k, v in headers]
        raw.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and modules
        [sys.executable, "-m", *args],
        stdout=subprocess.PIPE,
        stderr=log.open("ab"),
        cwd=Path(__file__).resolve().parents[2],
        start_new_session=True,
    )


def up(config: RigConfig, state_file: Path = STATE) -> dict[str, Any]:
    """Start (or reuse) the rig; returns its state: router URL, shard URLs, pids."""
    state = read_state(state_file)
    if state is not None:
        if state["config"] == asdict(config) and answers(state["router_port"]):
            return state
        down(state_file)
    log = state_file.with_suffix(".log")
    ids = account_ids(config.accounts)
    shards: list[tuple[int, subprocess.Popen[bytes]]] = []
    for n in range(config.shards):
        port = free_port()
        mine = [a for a in ids if shard_of(a, config.shards) == n]
        shards.append(
            (
                port,
                _spawn(
                    [
                        "bench.scale.shard",
                        "--port",
                        str(port),
                        "--accounts",
                        ",".join(mine),
                        "--regions",
                        ",".join(config.regions),
                        "--groups",
                        str(config.groups),
                    ],
                    log,
                ),
            )
        )
    for port, process in shards:  # seeding runs in every shard at once
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        if not line.startswith("ready"):
            raise RuntimeError(f"shard on port {port} did not start (see {log})")
    router_port = free_port()
    state = {
        "config": asdict(config),
        "router_port": router_port,
        "url": f"http://127.0.0.1:{router_port}",
        "shards": [f"http://127.0.0.1:{port}" for port, _ in shards],
        "accounts": ids,
        "pids": [p.pid for _, p in shards],
    }
    state_file.write_text(json.dumps(state, indent=2))
    router = _spawn(["bench.scale.rig", "route", "--state", str(state_file)], log)
    wait_port(router_port)
    state["pids"].append(router.pid)
    state_file.write_text(json.dumps(state, indent=2))
    return state


def read_state(state_file: Path = STATE) -> dict[str, Any] | None:
    if not state_file.exists():
        return None
    return dict(json.loads(state_file.read_text()))


def down(state_file: Path = STATE) -> None:
    """Stop the processes this rig started (by their pids) and forget it."""
    state = read_state(state_file)
    if state is None:
        return
    for pid in state["pids"]:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    state_file.unlink(missing_ok=True)


def route(state_file: Path) -> None:
    import uvicorn

    state = read_state(state_file)
    assert state is not None
    router = Router(state["shards"], RigConfig(**state["config"]))
    uvicorn.run(
        router,
        host="127.0.0.1",
        port=state["router_port"],
        log_level="warning",
        access_log=False,
        lifespan="on",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["up", "status", "down", "route"])
    parser.add_argument("--state", type=Path, default=STATE)
    defaults = RigConfig()
    parser.add_argument("--shards", type=int, default=defaults.shards)
    parser.add_argument("--accounts", type=int, default=defaults.accounts)
    parser.add_argument(
        "--regions",
        type=int,
        default=len(defaults.regions),
        help=f"the first N of {len(REGIONS)} regions",
    )
    parser.add_argument("--groups", type=int, default=defaults.groups)
    parser.add_argument("--latency-ms", type=float, default=defaults.latency_ms)
    parser.add_argument("--per-item-ms", type=float, default=defaults.per_item_ms)
    parser.add_argument("--burst", type=float, default=defaults.burst)
    parser.add_argument("--rate", type=float, default=defaults.rate)
    args = parser.parse_args(argv)
    if args.command == "route":
        route(args.state)
    elif args.command == "down":
        down(args.state)
    elif args.command == "status":
        print(json.dumps(read_state(args.state), indent=2))  # noqa: T201
    else:
        config = RigConfig(
            args.shards,
            args.accounts,
            list(REGIONS[: args.regions]),
            args.groups,
            args.latency_ms,
            args.per_item_ms,
            args.burst,
            args.rate,
        )
        started = time.monotonic()
        state = up(config, args.state)
        print(f"rig at {state['url']} ({time.monotonic() - started:.1f} s)")  # noqa: T201


if __name__ == "__main__":
    main()
