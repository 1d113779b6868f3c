"""Prometheus metrics of the collector (served on `/metrics`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REGION_SWEEP_SECONDS = Histogram(
    "secmonkey_collector_region_sweep_seconds",
    "Wall time of reading and publishing one account-region",
    ["outcome"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
ACCOUNT_SWEEP_SECONDS = Histogram(
    "secmonkey_collector_account_sweep_seconds",
    "Wall time of sweeping every requested region of one account",
    buckets=(0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
REGION_SWEEPS = Counter(
    "secmonkey_collector_region_sweeps_total",
    "Account-region sweeps finished, by outcome (complete or incomplete)",
    ["outcome"],
)
GROUPS_COLLECTED = Counter(
    "secmonkey_collector_groups_collected_total", "Security groups read and published"
)
BATCHES_PUBLISHED = Counter(
    "secmonkey_collector_batches_published_total", "SnapshotBatch messages confirmed"
)
AWS_ERRORS = Counter(
    "secmonkey_collector_aws_errors_total",
    "AWS calls that failed for good (after retries), by error code",
    ["code"],
)
SWEEPS_REQUESTED = Counter(
    "secmonkey_collector_sweep_requests_total",
    "SweepRequests published, by reason (scheduled or api)",
    ["reason"],
)
SCHEDULER_LEADER = Gauge(
    "secmonkey_collector_scheduler_leader", "1 while this replica holds the scheduler lease"
)
HEARTBEATS = Counter(
    "secmonkey_collector_heartbeats_total",
    "Calls of the heartbeat URL after complete sweeps, by outcome (ok or failed)",
    ["outcome"],
)
HEARTBEAT_LAST_SUCCESS = Gauge(
    "secmonkey_collector_heartbeat_last_success_timestamp_seconds",
    "When the heartbeat URL last answered 2xx (Unix time)",
)
WATCHDOG_CONDITIONS = Gauge(
    "secmonkey_collector_watchdog_conditions",
    "System conditions raised and not yet resolved, by condition (on the lease holder)",
    ["condition"],
)
WATCHED_QUEUE_MESSAGES = Gauge(
    "secmonkey_collector_watched_queue_messages",
    "Messages in each dead-letter and undelivered queue the watchdog watches",
    ["queue"],
)
WATCHDOG_CHECKS = Counter(
    "secmonkey_collector_watchdog_checks_total",
    "Watchdog rounds, by outcome (ok or failed)",
    ["outcome"],
)
