"""Snapshot partitions: one account-region always lands in the same queue."""

from __future__ import annotations

from collections import Counter

import pytest

from secmonkey.common import amqp
from secmonkey.common.partitions import (
    partition_bindings,
    partition_of,
    partition_of_key,
    snapshot_routing_key,
)


def test_an_account_region_has_the_same_partition_in_every_process_and_release() -> None:
    # Fixed values: a change here would send an account-region's snapshots to another
    # queue than the one holding its earlier ones (that needs draining, docs/operations.md).
    assert partition_of("123456789012", "eu-west-1", 16) == partition_of(
        "123456789012", "eu-west-1", 16
    )
    assert [partition_of("123456789012", r, 16) for r in ("eu-west-1", "us-east-1")] == [
        partition_of_key("aws:123456789012:eu-west-1:sg-1", 16),
        partition_of_key("aws:123456789012:us-east-1:sg-2", 16),
    ]


def test_account_regions_spread_over_the_partitions() -> None:
    counts = Counter(partition_of(f"{n:012d}", "eu-west-1", 16) for n in range(1600))
    assert len(counts) == 16
    assert max(counts.values()) < 2 * min(counts.values())


def test_the_routing_key_ends_with_the_partition_and_the_queue_binds_it() -> None:
    key = snapshot_routing_key("aws", "123456789012", "eu-west-1", 16)
    partition = partition_of("123456789012", "eu-west-1", 16)
    assert key == f"aws.123456789012.eu-west-1.{partition}"
    assert partition_bindings(["aws.#"], partition) == [f"aws.*.*.{partition}"]
    assert (
        snapshot_routing_key("aws", "123456789012", "eu-west-1", 0) == "aws.123456789012.eu-west-1"
    )


def test_each_partition_queue_has_a_single_active_consumer() -> None:
    queues = amqp.auditor_queues(4)
    assert [spec.name for _, spec in queues] == [f"auditor.snapshots.p0{n}" for n in range(4)]
    assert all(spec.extra_arguments["x-single-active-consumer"] is True for _, spec in queues)
    assert amqp.auditor_queues(0) == [(None, amqp.AUDITOR_QUEUE)]


def test_a_partitioned_auditor_refuses_bindings_it_cannot_partition() -> None:
    with pytest.raises(ValueError, match="binds <prefix>.# keys only"):
        partition_bindings(["aws.123.eu-west-1"], 3)
