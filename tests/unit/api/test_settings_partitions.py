"""The API lists and replays the dead letters of every auditor partition."""

from __future__ import annotations

from secmonkey.api.settings import Settings


def test_dead_letters_of_each_partition_are_listed() -> None:
    settings = Settings(environment="test", partitions=2)
    assert settings.consumer_queues == [
        "secmonkey.sweeps",
        "auditor.snapshots",
        "auditor.snapshots.p00",
        "auditor.snapshots.p01",
        "notifier.events",
        "collector.securityhub",
    ]
    assert Settings(environment="test", partitions=0).consumer_queues == [
        "secmonkey.sweeps",
        "auditor.snapshots",
        "notifier.events",
        "collector.securityhub",
    ]
