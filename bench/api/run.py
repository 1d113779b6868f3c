"""API benchmark: p50 / p95 latency of the main searches and lookups over a large estate.

Loads N groups (default 100,000, ten rules each: a million rules, nine of them CIDR
ranges) with their revisions, issues and search lookups, WRITTEN DIRECTLY in the
auditor's document shapes (`secmonkey.common.documents`: Item, Revision, Issue, a sample
of each validated with those models; the rule postings and group-ID lookups built by
`secmonkey.common.search_index`, the auditor's own code) because running a million rules
through the auditor would take far longer than the queries measured. Then it starts the API as deployed
(`python -m secmonkey.api`, its own process) and times, one request at a time:

- GET /api/v1/search/ip?ip=…                  (addresses in the estate's ranges)
- GET /api/v1/search/cidr?cidr=…&match=contains
- GET /api/v1/groups/resolve?ids=<20 IDs>
- GET /api/v1/groups/{id}/at?time=…&account_id=…&region=…
- GET /api/v1/report?format=json   (the default 1,000 issues listed; no goal)

and then the figures issue #18 sets goals for (`bench/api/scale.py`), each beside its goal:
the report's summary (`report?limit=1`: counts by severity, account and rule) and the
console dashboard, p95 < 1 s; the full report (`limit=100000`, every open issue) streamed,
first byte < 1 s and >= 20,000 issues/s after it; the four above, p95 <= 10 ms.
The counts come from the auditor's summaries (`issue_summaries`, one document per
account-region), written here by the auditor's own `issue_counters.summarise`.

Slow endpoints get fewer samples: each endpoint runs until it has `--samples` timings
or `--budget` seconds passed, with at least `--min-samples`. The loaded database is
kept (`--db`, default `bench_api_<N>`) and reused by the next run when complete;
`--reload` rebuilds it. `--api-pythonpath DIR:…` runs the API from another checkout's
sources (a before/after in one sitting on the same database).

Run: `make bench-api` (or `uv run --frozen python bench/api/run.py --groups 20000`); 200
timings an endpoint by default (a p95 of 40 is their second slowest, which moved by ±3 ms
here), 30 s at most each.
The last line is `RESULT api_worst_p95_ms=<x> goal<=10 summary_p95_ms=… dashboard_p95_ms=…
report_ttfb_p95_ms=… report_issues_per_s=… goals_met=<k>/5`: the worst p95 of the four
searches and lookups (the goal is for "each search and lookup"), then the issue's other
figures (the slowest of the full report's runs for its rate).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.api import scale  # noqa: E402
from secmonkey.common import issue_counters, storage  # noqa: E402
from secmonkey.common.canonical import CanonicalGroup, Rule  # noqa: E402
from secmonkey.common.cidr import IPRange  # noqa: E402
from secmonkey.common.documents import Issue, Item, Revision, issue_id  # noqa: E402
from secmonkey.common.item_keys import item_key  # noqa: E402
from secmonkey.common.search_index import edits, marks  # noqa: E402
from secmonkey.common.search_index import format as postings  # noqa: E402
from secmonkey.common.severity import Severity  # noqa: E402

GOAL_P95_MS = scale.SEARCH_GOAL_MS
FULL_SCALE = 100_000
SUMMARIES = 5  # the summaries' shape: older ones are recomputed (5: `issue_rows` as report rows)
LAYOUT = 8  # bumped when the stored shapes change: an older loaded database is rebuilt
MONGO_URL = os.environ.get("SECMONKEY_MONGO_URL", "mongodb://127.0.0.1:27017/")
AMQP_URL = os.environ.get("SECMONKEY_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
ADMIN_KEY = "smk_bench-admin-key-0123456789abcdef"
ACCOUNTS = [f"{100000000000 + 7919 * n}" for n in range(20)]
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the estate ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """Group n of the estate: where it lives and what its rules are."""

    n: int

    @property
    def account(self) -> str:
        return ACCOUNTS[self.n % len(ACCOUNTS)]

    @property
    def region(self) -> str:
        return REGIONS[(self.n // len(ACCOUNTS)) % len(REGIONS)]

    @property
    def group_id(self) -> str:
        return f"sg-{self.n:017x}"

    @property
    def key(self) -> str:
        return item_key(self.account, self.region, self.group_id)

    @property
    def revisions(self) -> int:
        return 1 + self.n % 3

    def rules(self) -> list[Rule]:
        r = random.Random(self.n)
        a, b, c = r.randrange(256), r.randrange(256), r.randrange(1, 224)

        def rule(proto: str, low: int | None, high: int | None, kind: str, source: str) -> Rule:
            return Rule.model_validate(
                {
                    "direction": "ingress",
                    "protocol": proto,
                    "from_port": low,
                    "to_port": high,
                    "source_kind": kind,
                    "source": source,
                    "source_account": self.account if kind == "group" else None,
                }
            )

        web = "0.0.0.0/0" if self.n % 10 == 0 else f"10.{a}.{b}.0/24"
        public = ipaddress.ip_network(
            f"{c if c not in (10, 127) else 11}.{a}.{b}.{r.randrange(256)}"
        )
        rules = [
            rule("tcp", 443, 443, "cidr4", web),
            rule("tcp", 22, 22, "cidr4", f"10.{a}.{b}.0/24"),
            rule("tcp", 5432, 5432, "cidr4", f"10.{a}.0.0/16"),
            rule(
                "tcp",
                8080,
                8080,
                "cidr4",
                str(ipaddress.ip_network(f"{public.network_address}/28", strict=False)),
            ),
            rule("tcp", 3306, 3306, "cidr4", str(public)),
            rule("tcp", 443, 443, "cidr6", f"2001:db8:{a:x}{b:02x}::/48"),
            rule("udp", 53, 53, "cidr4", f"172.16.{a}.0/24"),
            rule("tcp", 9000, 9100, "cidr4", f"192.168.{b}.0/24"),
            rule("tcp", 80, 80, "group", f"sg-{(self.n + 1):017x}"),
            Rule(direction="egress", protocol="-1", source_kind="cidr4", source="0.0.0.0/0"),
        ]
        return rules

    def config(self, version: int) -> CanonicalGroup:
        """Version v (1..revisions) drops the last `revisions - v` ingress rules."""
        rules = self.rules()
        drop = self.revisions - version
        kept = rules[: len(rules) - 1 - drop] + rules[-1:]
        return CanonicalGroup(
            group_id=self.group_id,
            name=f"app-{self.n % 997}-{self.n}",
            description="bench group",
            vpc_id=f"vpc-{self.n // 100:08x}",
            owner_id=self.account,
            tags={"team": f"t{self.n % 37}"},
            rules=kept,
        ).normalised()

    def observed(self, version: int) -> datetime:
        return T0 + timedelta(days=version, minutes=self.n % 1440)


def ranges_of(config: CanonicalGroup) -> list[dict[str, Any]]:
    out = []
    for index, rule in enumerate(config.rules):
        if rule.source_kind in ("cidr4", "cidr6"):
            doc = IPRange.of(rule.source).to_doc()
            out.append(doc | {"rule": index, "direction": rule.direction})
    return out


def documents(spec: Spec) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The item, revisions and issues the auditor would have written for this group."""
    revisions = []
    previous = None
    for version in range(1, spec.revisions + 1):
        config = spec.config(version)
        revisions.append(
            {
                "_id": f"{spec.key}:{version}",
                "key": spec.key,
                "seq": version,
                "account_id": spec.account,
                "region": spec.region,
                "group_id": spec.group_id,
                "change_type": "created" if previous is None else "changed",
                "fingerprint": config.fingerprint(),
                "config": config.model_dump(mode="python"),
                "attachments": {
                    "interface_count": 1,
                    "interface_types": ["interface"],
                    "instance_ids": [],
                    "public_ip": spec.n % 4 == 0,
                },
                "diff": None,
                "changes": [] if previous is None else ["+ rule"],
                "observed_at": spec.observed(version),
                "sweep_id": f"bench-{version}",
                "callers": [],
            }
        )
        previous = config
    assert previous is not None
    current = revisions[-1]
    issues = []
    rules = previous.rules
    findings = [
        (rules[i], "public-source", Severity.LOW)
        for i in range(len(rules))
        if rules[i].from_port == 3306 and spec.n % 3 == 0
    ]
    findings += [
        (r, "internet-ingress", Severity.MEDIUM)
        for r in rules
        if r.source == "0.0.0.0/0" and r.direction == "ingress"
    ]
    for rule, rule_id, severity in findings:
        issues.append(
            {
                "_id": issue_id(spec.key, rule_id, rule.text()),
                "key": spec.key,
                "account_id": spec.account,
                "region": spec.region,
                "group_id": spec.group_id,
                "group_name": previous.name,
                "vpc_id": previous.vpc_id,
                "rule_id": rule_id,
                "rule_text": rule.text(),
                "severity": severity.value,
                "severity_rank": severity.rank,
                "message": f"{rule_id}: {rule.text()}",
                "compliance": ["cis-aws-1.4:5.2"],
                "status": "open",
                "opened_at": spec.observed(1),
                "fixed_at": None,
                "last_seen": current["observed_at"],
                "reopened": 0,
                "justification": None,
            }
        )
    worst = max((s for _, _, s in findings), key=lambda s: s.rank, default=None)
    item = {
        "_id": spec.key,
        "account_id": spec.account,
        "account_name": f"acct-{ACCOUNTS.index(spec.account)}",
        "region": spec.region,
        "vpc_id": previous.vpc_id,
        "group_id": spec.group_id,
        "name": previous.name,
        "name_lower": previous.name.lower(),
        "state": "active",
        "config": current["config"],
        "fingerprint": current["fingerprint"],
        "attachments": current["attachments"],
        "first_seen": spec.observed(1),
        "last_seen": current["observed_at"],
        "last_changed": current["observed_at"],
        "deleted_at": None,
        "seq": spec.revisions,
        "ranges": ranges_of(previous),
        "open_issues": len(issues),
        "max_severity": worst.value if worst else None,
        "max_severity_rank": worst.rank if worst else -1,
    }
    return item, revisions, issues


def validate_shapes() -> None:
    """The documents are exactly what the shared models describe (no invented fields)."""
    for n in (0, 1, 2, 3, 30):
        item, revisions, issues = documents(Spec(n))
        Item.model_validate(item)
        for r in revisions:
            Revision.model_validate(r)
        for i in issues:
            Issue.model_validate(i)


class Lookups:
    """The `_id`-keyed lookups the auditor files (rule postings, group IDs), accumulated as
    whole documents: the same content `edits.delta_writes` would build write by write."""

    def __init__(self) -> None:
        self.directory = postings.RangeDirectory()
        self.entries: dict[str, list[str]] = defaultdict(list)
        self.group_ids: dict[str, dict[str, Any]] = defaultdict(dict)

    def file(self, item: dict[str, Any]) -> None:
        self.group_ids[item["group_id"]][item["_id"]] = edits.resolution(item)
        config = CanonicalGroup.model_validate(item["config"])
        filed = postings.postings_of(item["_id"], config)
        self.directory.file(filed)
        for p in filed:
            self.entries[p.doc_id].append(p.entry.encode(int(item["seq"])))

    def documents(self) -> dict[str, list[dict[str, Any]]]:
        ranges: list[dict[str, Any]] = [
            {
                "_id": postings.LENGTHS_ID,
                **{f: sorted(v) for f, v in self.directory.lengths.items()},
            },
            {"_id": postings.BUILT_ID, "items": len(self.group_ids)},
            {"_id": postings.LISTED_ID, "ranges": len(self.directory.places)},
        ]
        ranges += self.directory.documents()
        return {
            postings.RANGES: ranges,
            postings.POSTINGS: [
                {"_id": d, "e": "\n".join(sorted(lines, key=postings.entry_position)), "v": 1}
                for d, lines in self.entries.items()
            ],
            postings.GROUP_IDS: [{"_id": g, "g": k} for g, k in self.group_ids.items()],
            marks.MARKS: marks_of({postings.posting_place(d) for d in self.entries}),
        }


def marks_of(places: set[str]) -> list[dict[str, Any]]:
    """The marks the auditor sets after filing postings: the directory's and one per
    account-region, each with a new token."""
    return [{"_id": m, "t": secrets.token_hex(8)} for m in [marks.DIRECTORY, *sorted(places)]]


async def write_lookups(db: Any, groups: int) -> dict[str, int]:
    lookups = Lookups()
    for n in range(groups):
        lookups.file(documents(Spec(n))[0])
    counts = {}
    for name, docs in lookups.documents().items():
        await db[name].drop()
        for start in range(0, len(docs), BATCH):
            await db[name].insert_many(docs[start : start + BATCH], ordered=False)
        counts[name] = len(docs)
    return counts


async def write_summaries(db: Any, groups: int) -> int:
    """Each account-region's summary, made by the auditor's own `issue_counters.summary_doc`
    from the estate's items and open issues (as the auditor writes it after a change; not
    read back from FerretDB, where each account-region's read scans every item)."""
    items: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    issues: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for n in range(groups):
        spec = Spec(n)
        item, _, opened = documents(spec)
        items[(spec.account, spec.region)].append(item)
        issues[(spec.account, spec.region)] += opened
    for (account_id, region), place_items in items.items():
        place_issues = issues[(account_id, region)]
        doc = issue_counters.summary_doc(account_id, region, place_items, place_issues)
        await db[issue_counters.SUMMARIES].replace_one({"_id": doc["_id"]}, doc, upsert=True)
        rows = issue_counters.rows_doc(account_id, region, place_issues)
        await db[issue_counters.ROWS].replace_one({"_id": rows["_id"]}, rows, upsert=True)
    await db.bench_meta.update_one({"_id": "loaded"}, {"$set": {"summaries": SUMMARIES}})
    return len(items)


async def load(db_name: str, groups: int, reload: bool) -> tuple[float, dict[str, int]]:
    # A bulk load: no per-operation deadline (indexing 100,000 items takes minutes).
    client = storage.connect(MONGO_URL, operation_timeout_seconds=None)
    db = client[db_name]
    try:
        marker = await db.bench_meta.find_one({"_id": "loaded"})
        if marker and marker.get("groups") == groups and not reload:
            counts = dict(marker.get("counts") or {})
            if marker.get("summaries") != SUMMARIES:
                started = time.perf_counter()
                places = await write_summaries(db, groups)
                took = time.perf_counter() - started
                print(f"  summarised {places} account-regions in {took:.0f}s", flush=True)
            if marker.get("layout") != LAYOUT:  # same estate, lookups of an older shape
                started = time.perf_counter()
                counts |= await write_lookups(db, groups)
                await db.bench_meta.update_one(
                    {"_id": "loaded"}, {"$set": {"layout": LAYOUT, "counts": counts}}
                )
                print(f"  rebuilt the lookups in {time.perf_counter() - started:.0f}s")
            if await db[marks.MARKS].find_one({}) is None:  # loaded before there were marks
                places = {postings.place_of(Spec(n).key) for n in range(groups)}
                await db[marks.MARKS].insert_many(marks_of(places))
            # (the counts recorded at loading: FerretDB counts by reading every document)
            return 0.0, counts
        await client.drop_database(db_name)
        # The indexes first, as a running system has them: FerretDB builds an index on a
        # full collection in one command longer than any deadline.
        await storage.ensure_indexes(db)
        started = time.perf_counter()
        counts = {"items": 0, "revisions": 0, "issues": 0}
        pending: dict[str, list[dict[str, Any]]] = {"items": [], "revisions": [], "issues": []}

        async def flush(name: str) -> None:
            if pending[name]:
                await db[name].insert_many(pending[name], ordered=False)
                counts[name] += len(pending[name])
                pending[name] = []

        for n in range(groups):
            item, revisions, issues = documents(Spec(n))
            pending["items"].append(item)
            pending["revisions"].extend(revisions)
            pending["issues"].extend(issues)
            for name in pending:
                if len(pending[name]) >= BATCH:
                    await flush(name)
            if n and n % 10000 == 0:
                print(f"  loaded {n} groups ({time.perf_counter() - started:.0f}s)", flush=True)
        for name in pending:
            await flush(name)
        counts |= await write_lookups(db, groups)
        await storage.ensure_indexes(db)
        await db.bench_meta.replace_one(
            {"_id": "loaded"},
            {"_id": "loaded", "groups": groups, "layout": LAYOUT, "counts": counts},
            upsert=True,
        )
        await write_summaries(db, groups)
        return time.perf_counter() - started, counts
    finally:
        await client.close()


async def server_name() -> str:
    client = storage.connect(MONGO_URL)
    try:
        capabilities = await storage.detect(client)
    finally:
        await client.close()
    return {"ferretdb": "FerretDB over SQLite", "mongodb": "MongoDB"}.get(
        capabilities.backend, capabilities.backend
    )


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Timing:
    name: str
    samples: list[float] = field(default_factory=list)
    statuses: set[int] = field(default_factory=set)
    results: list[int] = field(default_factory=list)

    def quantile(self, q: float) -> float:
        ordered = sorted(self.samples)
        if len(ordered) == 1:
            return ordered[0]
        return statistics.quantiles(ordered, n=100, method="inclusive")[int(q * 100) - 1]


def measure(
    http: httpx.Client,
    name: str,
    requests: Iterator[tuple[str, dict[str, Any]]],
    *,
    samples: int,
    min_samples: int,
    budget: float,
    count: Callable[[Any], int],
) -> Timing:
    timing = Timing(name)
    started = time.perf_counter()
    while len(timing.samples) < samples:
        if len(timing.samples) >= min_samples and time.perf_counter() - started > budget:
            break
        path, params = next(requests)
        t = time.perf_counter()
        response = http.get(path, params=params)
        timing.samples.append((time.perf_counter() - t) * 1000)
        timing.statuses.add(response.status_code)
        if response.status_code == 200:
            timing.results.append(count(response.json()))
    return timing


def workloads(groups: int, seed: int = 1) -> dict[str, Iterator[tuple[str, dict[str, Any]]]]:
    r = random.Random(seed)

    def ips() -> Iterator[tuple[str, dict[str, Any]]]:
        while True:
            spec = Spec(r.randrange(groups))
            rule = spec.rules()[r.choice([1, 2, 6, 7])]  # private ranges of real groups
            network = ipaddress.ip_network(rule.source)
            host = network.network_address + r.randrange(1, network.num_addresses - 1)
            yield "/api/v1/search/ip", {"ip": str(host), "direction": "ingress"}

    def cidrs() -> Iterator[tuple[str, dict[str, Any]]]:
        while True:
            spec = Spec(r.randrange(groups))
            rule = spec.rules()[1]  # a /24 some group allows
            yield "/api/v1/search/cidr", {"cidr": rule.source, "match": "contains"}

    def resolves() -> Iterator[tuple[str, dict[str, Any]]]:
        while True:
            ids = ",".join(Spec(r.randrange(groups)).group_id for _ in range(20))
            yield "/api/v1/groups/resolve", {"ids": ids}

    def ats() -> Iterator[tuple[str, dict[str, Any]]]:
        while True:
            spec = Spec(r.randrange(groups))
            at = spec.observed(1) + timedelta(days=r.random() * spec.revisions)
            yield (
                f"/api/v1/groups/{spec.group_id}/at",
                {"time": at.isoformat(), "account_id": spec.account, "region": spec.region},
            )

    def reports() -> Iterator[tuple[str, dict[str, Any]]]:
        while True:
            yield "/api/v1/report", {"format": "json"}

    return {
        "search/ip": ips(),
        "search/cidr contains": cidrs(),
        "groups/resolve (20 ids)": resolves(),
        "groups/{id}/at": ats(),
        "report?format=json": reports(),
    }


GOAL_ENDPOINTS = {
    "search/ip",
    "search/cidr contains",
    "groups/resolve (20 ids)",
    "groups/{id}/at",
}
COUNTERS: dict[str, Callable[[Any], int]] = {
    "search/ip": lambda body: len(body["results"]),
    "search/cidr contains": lambda body: len(body["results"]),
    "groups/resolve (20 ids)": lambda body: sum(1 for x in body["results"] if x["found"]),
    "groups/{id}/at": lambda body: len(body["rules"]),
    "report?format=json": lambda body: int(body["open_issues"]),
}


@contextlib.contextmanager
def api_server(db_name: str, pythonpath: str | None = None) -> Iterator[str]:
    port = free_port()
    ops_port = free_port()
    env = os.environ | {
        "SECMONKEY_METRICS_PORT": str(ops_port),
        "SECMONKEY_MONGO_URL": MONGO_URL,
        "SECMONKEY_AMQP_URL": AMQP_URL,
        "SECMONKEY_MONGO_DB": db_name,
        "SECMONKEY_PORT": str(port),
        "SECMONKEY_HOST": "127.0.0.1",
        "SECMONKEY_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
        "SECMONKEY_LOG_LEVEL": "WARNING",
        "SECMONKEY_KEY_CACHE_SECONDS": "60",
        # the console over plain http on loopback (a Secure cookie would never come back)
        "SECMONKEY_CONSOLE_SECURE_COOKIE": "false",
    }
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    process = subprocess.Popen([sys.executable, "-m", "secmonkey.api"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                ready = httpx.get(f"http://127.0.0.1:{ops_port}/readyz", timeout=5)
                if ready.status_code == 200:
                    break
            if process.poll() is not None:
                raise RuntimeError("the API exited during start")
            time.sleep(0.5)
        else:
            raise RuntimeError("the API did not become ready")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def main() -> None:
    # A stopped benchmark still stops the API server it started (the `finally` runs).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--groups",
        type=int,
        default=FULL_SCALE,
        help=f"groups in the estate (default {FULL_SCALE})",
    )
    # 200: a p95 of 40 timings is their second slowest, which moved by ±3 ms run to run here.
    parser.add_argument("--samples", type=int, default=200, help="timings per endpoint at most")
    parser.add_argument("--min-samples", type=int, default=3)
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per endpoint")
    parser.add_argument("--db", default=None, help="database (default bench_api_<groups>)")
    parser.add_argument("--reload", action="store_true", help="rebuild the database")
    parser.add_argument("--timeout", type=float, default=600.0, help="per request, seconds")
    parser.add_argument(
        "--only", action="append", help="measure the endpoints whose name contains this"
    )
    parser.add_argument(
        "--api-pythonpath", default=None, help="PYTHONPATH of the API (another checkout's src)"
    )
    parser.add_argument(
        "--full-samples", type=int, default=5, help="full-report streams at most (>= 3)"
    )
    args = parser.parse_args()

    validate_shapes()
    server = asyncio.run(server_name())
    print(f"server: {server} at {MONGO_URL}")
    db_name = args.db or f"bench_api_{args.groups}"
    print(f"estate: {args.groups} groups x 10 rules (9 CIDR ranges each), 1-3 revisions, issues")
    print("loading: documents written DIRECTLY in the auditor's shapes (validated with the")
    print("         shared Item/Revision/Issue models; lookups by secmonkey.common.search_index),")
    print("         not through the auditor, for speed")
    seconds, counts = asyncio.run(load(db_name, args.groups, args.reload))
    rules = args.groups * 10
    how = f"in {seconds:.0f}s" if seconds else "(reused from a previous run)"
    print(f"loaded {counts} ({rules} rules) {how}")

    timings: list[Timing] = []
    figures: dict[str, Any] = {}
    with (
        api_server(db_name, args.api_pythonpath) as url,
        httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=args.timeout
        ) as http,
    ):
        warm = {"ids": Spec(0).group_id}  # one `_id` lookup: warms the key cache
        http.get("/api/v1/groups/resolve", params=warm).raise_for_status()
        for name, requests in workloads(args.groups).items():
            if args.only and not any(part in name for part in args.only):
                continue
            timing = measure(
                http,
                name,
                requests,
                samples=args.samples,
                min_samples=args.min_samples,
                budget=args.budget,
                count=COUNTERS[name],
            )
            timings.append(timing)
            print(
                f"  {name:26s} n={len(timing.samples):3d}  p50={timing.quantile(0.5):9.1f} ms  "
                f"p95={timing.quantile(0.95):9.1f} ms  statuses={sorted(timing.statuses)}  "
                f"results/request~{statistics.mean(timing.results) if timing.results else 0:.0f}",
                flush=True,
            )
        if not args.only or any("scale" in part for part in args.only):
            figures = at_scale(http, url, args)
    # The goal is for "each search and lookup"; the report (every open issue, counted per
    # account and rule) is measured and printed too, but is neither.
    goal = [t for t in timings if t.name in GOAL_ENDPOINTS]
    print()
    print(f"{'endpoint':28s} {'p50 ms':>10s} {'p95 ms':>10s}  goal p95<={GOAL_P95_MS:.0f} ms")
    for t in timings:
        if t.name in GOAL_ENDPOINTS:
            verdict = "ok" if t.quantile(0.95) <= GOAL_P95_MS else "MISSED"
        else:
            verdict = "(not a search or lookup: no goal)"
        print(f"{t.name:28s} {t.quantile(0.5):10.1f} {t.quantile(0.95):10.1f}  {verdict}")
    if not goal:
        return
    worst = max(goal, key=lambda t: t.quantile(0.95))
    print(f"worst p95 of the searches and lookups: {worst.name} on {server}")
    result = f"RESULT api_worst_p95_ms={worst.quantile(0.95):.1f} goal<={GOAL_P95_MS:.0f}"
    if figures:
        met = int(worst.quantile(0.95) <= GOAL_P95_MS) + sum(figures.pop("met"))
        result += " " + " ".join(f"{k}={v}" for k, v in figures.items()) + f" goals_met={met}/5"
    print(result)


def at_scale(http: httpx.Client, url: str, args: argparse.Namespace) -> dict[str, Any]:
    """The issue's figures beside their goals; what the RESULT line adds."""
    budget, samples = args.budget, args.samples
    summary = scale.Simple("report summary (limit=1)", scale.SUMMARY_GOAL_MS).run(
        http, "/api/v1/report", {"format": "json", "limit": "1"}, samples, budget
    )
    console = scale.console_client(url, ADMIN_KEY, args.timeout)
    try:
        dashboard = scale.Simple("console dashboard", scale.DASHBOARD_GOAL_MS).run(
            console, "/console/", {}, samples, budget
        )
    finally:
        console.close()
    full = scale.Stream().run(http, max(3, args.full_samples), budget)
    print()
    print(f"{'figure (issue #18)':34s} {'measured':>14s}  goal")
    for simple in (summary, dashboard):
        print(
            f"{simple.name + ' p95':34s} {simple.p95:11.1f} ms  < {simple.goal_ms:.0f} ms  "
            f"{'ok' if simple.met else 'MISSED'} (n={len(simple.samples)}, p50 "
            f"{scale.quantile(simple.samples, 0.5):.1f} ms, statuses {sorted(simple.statuses)})"
        )
    ttfb_ok = full.ttfb_p95 < scale.TTFB_GOAL_MS
    rate_ok = full.slowest_rate >= scale.RATE_GOAL
    print(
        f"{'full report first byte p95':34s} {full.ttfb_p95:11.1f} ms  < "
        f"{scale.TTFB_GOAL_MS:.0f} ms  {'ok' if ttfb_ok else 'MISSED'} "
        f"({full.issues} issues, n={len(full.rates)}, whole p50 "
        f"{scale.quantile(full.total_ms, 0.5) / 1000:.2f} s)"
    )
    print(
        f"{'full report issues/s (slowest)':34s} {full.slowest_rate:11.0f}     >= "
        f"{scale.RATE_GOAL:.0f}/s  {'ok' if rate_ok else 'MISSED'} "
        f"(median {statistics.median(full.rates):.0f}/s)"
    )
    return {
        "summary_p95_ms": f"{summary.p95:.1f}",
        "dashboard_p95_ms": f"{dashboard.p95:.1f}",
        "report_ttfb_p95_ms": f"{full.ttfb_p95:.1f}",
        "report_issues_per_s": f"{full.slowest_rate:.0f}",
        "met": [summary.met, dashboard.met, ttfb_ok, rate_ok],
    }


if __name__ == "__main__":
    main()
