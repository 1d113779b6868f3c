"""Prometheus metrics of the auditor (served on `/metrics`)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

GROUPS_APPLIED = Counter(
    "secmonkey_auditor_groups_applied_total",
    "Group observations applied, by outcome: unchanged (only last_seen moved), created, "
    "changed, restored, deleted, reaudit (same configuration, new audit inputs)",
    ["outcome"],
)

PASS_MESSAGES = Histogram(
    "secmonkey_auditor_pass_messages",
    "Messages applied together in one pass (distinct account-regions that waited meanwhile)",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
