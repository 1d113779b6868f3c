"""Prometheus metrics of the real-time event path (served on the collector's `/metrics`)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

EVENTS = Counter(
    "secmonkey_collector_cloudtrail_events_total",
    "CloudTrail events received from SQS, by outcome "
    "(handled, ignored, malformed, unmonitored, duplicate)",
    ["outcome"],
)
DESCRIBES = Counter(
    "secmonkey_collector_event_describes_total",
    "Targeted reads of one account-region (a window of events, or one leading call), by outcome",
    ["outcome"],
)
LEADING = Counter(
    "secmonkey_collector_event_leading_total",
    "CloudTrail calls on a quiet group described at once, without waiting for a window",
)
EVENT_SNAPSHOTS = Counter(
    "secmonkey_collector_event_snapshots_total",
    "SnapshotBatch messages with source=event confirmed by RabbitMQ",
)
EVENT_DELAY = Histogram(
    "secmonkey_collector_event_delay_seconds",
    "From the CloudTrail event time to its snapshot being confirmed",
    buckets=(0.5, 1, 2, 3, 5, 10, 30, 60, 120, 300, 900),
)
MISSED_EVENTS = Counter(
    "secmonkey_collector_missed_events_total",
    "Changes a sweep found that no CloudTrail event explained",
)
SQS_ERRORS = Counter(
    "secmonkey_collector_sqs_errors_total", "Failed SQS calls, by operation", ["operation"]
)
