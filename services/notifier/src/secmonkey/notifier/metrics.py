"""Prometheus metrics of the notifier (registered once per process)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

SENT = Counter("secmonkey_notifier_sent_total", "Deliveries that succeeded", ["channel"])
FAILED = Counter(
    "secmonkey_notifier_failed_total", "Deliveries that finally failed (dead-lettered)", ["channel"]
)
RETRIED = Counter(
    "secmonkey_notifier_retried_total", "Attempts that failed and were scheduled again", ["channel"]
)
UNANSWERED = Counter(
    "secmonkey_notifier_unanswered_total",
    "Attempts sent that got no answer in time (the receiver may have acted on them)",
    ["channel"],
)
ATTEMPT_SECONDS = Histogram(
    "secmonkey_notifier_attempt_seconds",
    "Duration of one delivery attempt",
    ["channel"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
LATENCY_SECONDS = Histogram(
    "secmonkey_notifier_latency_seconds",
    "From receiving an event (or closing a digest) to its delivery",
    ["channel"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)
EVENTS = Counter("secmonkey_notifier_events_total", "Events consumed", ["type"])
DIGESTED = Counter("secmonkey_notifier_digested_total", "Events held for a digest")
