"""The API-at-scale figures of issue #18, beside their goals: the report's summary and the
console dashboard (p95 < 1 s, from the auditor's per-account-region summaries), the full
report streamed (first byte < 1 s, then >= 20,000 issues/s), the searches and lookups
(p95 <= 10 ms). Used by bench/api/run.py; the measuring loops live here so run.py keeps
to loading the estate and running the server.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from dataclasses import dataclass, field

import httpx

SEARCH_GOAL_MS = 10.0
SUMMARY_GOAL_MS = 1000.0
DASHBOARD_GOAL_MS = 1000.0
TTFB_GOAL_MS = 1000.0
RATE_GOAL = 20_000.0
FULL_LIMIT = 100_000  # the API's largest `limit`: every open issue of the bench estate


def quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(q * 100) - 1]


def console_client(url: str, key: str, timeout: float) -> httpx.Client:
    """A console session, signed in with the API key as a browser would (form + cookie)."""
    client = httpx.Client(base_url=url, timeout=timeout)
    form = client.get("/console/login")
    form.raise_for_status()
    match = re.search(r'name="csrf" value="([^"]*)"', form.text)
    if match is None:
        raise RuntimeError("the console's sign-in form has no csrf field")
    signed = client.post("/console/login", data={"key": key, "csrf": match.group(1), "next": "/"})
    if signed.status_code not in (200, 303):
        raise RuntimeError(f"console sign-in answered {signed.status_code}")
    return client


def timed_get(client: httpx.Client, path: str, params: dict[str, str]) -> tuple[float, int, str]:
    started = time.perf_counter()
    response = client.get(path, params=params)
    return (time.perf_counter() - started) * 1000, response.status_code, response.text


@dataclass
class Simple:
    """p50/p95 of one page or request, repeated."""

    name: str
    goal_ms: float
    samples: list[float] = field(default_factory=list)
    statuses: set[int] = field(default_factory=set)

    def run(
        self, client: httpx.Client, path: str, params: dict[str, str], n: int, budget: float
    ) -> Simple:
        started = time.perf_counter()
        while len(self.samples) < n and (
            len(self.samples) < 3 or time.perf_counter() - started < budget
        ):
            ms, status, _ = timed_get(client, path, params)
            self.samples.append(ms)
            self.statuses.add(status)
        return self

    @property
    def p95(self) -> float:
        return quantile(self.samples, 0.95)

    @property
    def met(self) -> bool:
        return self.statuses == {200} and self.p95 < self.goal_ms


@dataclass
class Stream:
    """The full report streamed: time to first byte, and issues per second after it."""

    ttfb_ms: list[float] = field(default_factory=list)
    total_ms: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)
    issues: int = 0

    def run(self, client: httpx.Client, n: int, budget: float) -> Stream:
        started = time.perf_counter()
        while len(self.rates) < n and (
            len(self.rates) < 3 or time.perf_counter() - started < budget
        ):
            t0 = time.perf_counter()
            first = None
            body = bytearray()
            params = {"format": "json", "limit": str(FULL_LIMIT)}
            with client.stream("GET", "/api/v1/report", params=params) as response:
                response.raise_for_status()
                for chunk in response.iter_raw():
                    if first is None and chunk:
                        first = time.perf_counter()
                    body += chunk
            end = time.perf_counter()
            assert first is not None
            self.issues = len(json.loads(body)["issues"])
            self.ttfb_ms.append((first - t0) * 1000)
            self.total_ms.append((end - t0) * 1000)
            self.rates.append(self.issues / max(end - first, 1e-9))
        return self

    @property
    def ttfb_p95(self) -> float:
        return quantile(self.ttfb_ms, 0.95)

    @property
    def slowest_rate(self) -> float:
        return min(self.rates)
