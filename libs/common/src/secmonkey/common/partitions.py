"""Snapshot partitions: which of N queues carries an account-region's snapshots.

The collector publishes each account-region's snapshots with its partition number as
the last word of the routing key (`aws.<account>.<region>.<partition>`); the auditor
has one quorum queue per partition with single active consumer, and its replicas claim
partitions through leases. So one account-region's messages are handled by one replica
at a time, in order, whatever the database's isolation. N is `SECMONKEY_PARTITIONS`
(0: one queue, the layout before partitions); every collector and auditor must agree,
and changing it needs draining (docs/operations.md).
"""

from __future__ import annotations

import hashlib

from secmonkey.common.item_keys import key_parts

DEFAULT_PARTITIONS = 16


def partition_of(account_id: str, region: str, partitions: int) -> int:
    """A stable hash of the account-region, mod `partitions` (the same in every process
    and release: not Python's salted `hash`)."""
    if partitions <= 0:
        return 0
    digest = hashlib.sha256(f"{account_id}:{region}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % partitions


def partition_of_key(item_key: str, partitions: int) -> int:
    """The partition of an item key `aws:<account>:<region>:<group>`."""
    account_id, region, _ = key_parts(item_key)
    return partition_of(account_id, region, partitions)


def snapshot_routing_key(prefix: str, account_id: str, region: str, partitions: int) -> str:
    """`<prefix>.<account>.<region>.<partition>`, or without the partition when N is 0."""
    base = f"{prefix}.{account_id}.{region}"
    if partitions <= 0:
        return base
    return f"{base}.{partition_of(account_id, region, partitions)}"


def partition_queue(base: str, partition: int) -> str:
    """The name of a partition's queue: `auditor.snapshots.p07`."""
    return f"{base}.p{partition:02d}"


def partition_bindings(routing_keys: list[str] | tuple[str, ...], partition: int) -> list[str]:
    """A partition queue's bindings from the auditor's routing keys: `aws.#` becomes
    `aws.*.*.<partition>` (the account and region words, then the partition)."""
    bindings = []
    for key in routing_keys:
        if not key.endswith("#"):
            raise ValueError(f"a partitioned auditor binds <prefix>.# keys only, not {key!r}")
        bindings.append(f"{key[:-1]}*.*.{partition}")
    return bindings
