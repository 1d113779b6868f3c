"""Prometheus metrics of the auditor (served on `/metrics`)."""

from __future__ import annotations

from prometheus_client import Counter

GROUPS_APPLIED = Counter(
    "secmonkey_auditor_groups_applied_total",
    "Group observations applied, by outcome: unchanged (only last_seen moved), created, "
    "changed, restored, deleted, reaudit (same configuration, new audit inputs)",
    ["outcome"],
)
