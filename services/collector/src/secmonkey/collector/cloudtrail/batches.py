"""A window's describe as SnapshotBatch messages (`source: event`).

Up to `batch_size` groups a message, the groups found gone among them as
`missing_group_ids`. The callers are the window's CloudTrail calls, each listing the
groups of its message that its call named, so the auditor puts on each group's
revision only the calls that were about that group.
"""

from __future__ import annotations

from secmonkey.collector.cloudtrail.describe import Described
from secmonkey.collector.cloudtrail.window import Window
from secmonkey.common.canonical import GroupSnapshot
from secmonkey.common.messages import Caller, SnapshotBatch, new_id

EVENT_SWEEP_PREFIX = "event-"


def snapshot_batches(window: Window, described: Described, size: int) -> list[SnapshotBatch]:
    """The window's groups (and the missing ones) in batches of up to `size` groups.

    Every caller lists the groups of its batch that its call named, so the auditor
    puts on each group's revision only the calls that were about that group.
    """
    sweep_id = f"{EVENT_SWEEP_PREFIX}{new_id()}"
    entries: list[tuple[str, GroupSnapshot | None, list[Caller]]] = [
        (group_id, snapshot, window.callers_of(group_id, snapshot.config.name))
        for group_id, snapshot in described.groups.items()
    ]
    for group_id in described.missing:
        # Resolved from a deleted name: the delete call is the caller.
        callers = window.callers_of(group_id) or [
            c for d in window.deleted_names.values() for c in d.values()
        ]
        entries.append((group_id, None, callers))
    batches: list[SnapshotBatch] = []
    for start in range(0, len(entries), size):
        chunk = entries[start : start + size]
        tagged: dict[str, Caller] = {}
        for group_id, _, callers in chunk:
            for caller in callers:
                mine = tagged.get(caller.event_id)
                if mine is None:
                    mine = tagged[caller.event_id] = caller.model_copy(update={"group_ids": []})
                mine.group_ids.append(group_id)
        groups = [snapshot for _, snapshot, _ in chunk if snapshot is not None]
        vpc_ids = sorted({g.config.vpc_id for g in groups if g.config.vpc_id})
        batches.append(
            SnapshotBatch(
                sweep_id=sweep_id,
                account_id=window.account_id,
                region=window.region,
                observed_at=described.observed_at,
                groups=groups,
                source="event",
                callers=sorted(tagged.values(), key=lambda c: (c.at is None, c.at, c.event_id)),
                missing_group_ids=[g for g, snapshot, _ in chunk if snapshot is None],
                vpcs=[described.vpcs[v] for v in vpc_ids if v in described.vpcs],
                topology=described.topology if start == 0 else None,
            )
        )
    return batches
