"""Snapshot batches: at most `batch_size` groups, each with the VPCs of its own groups."""

from __future__ import annotations

from datetime import UTC, datetime

from secmonkey.collector.reader import RegionRead
from secmonkey.collector.settings import Settings
from secmonkey.collector.sweeper import routing_key, snapshot_batches
from secmonkey.common.canonical import CanonicalGroup, GroupSnapshot
from secmonkey.common.messages import VpcSummary


def test_batches_hold_at_most_the_batch_size_in_order_with_their_vpcs() -> None:
    read = RegionRead(observed_at=datetime(2026, 1, 1, tzinfo=UTC))
    read.groups = [
        GroupSnapshot.of(
            CanonicalGroup(
                group_id=f"sg-{n}", name=f"g{n}", owner_id="111111111111", vpc_id=f"vpc-{n // 300}"
            )
        )
        for n in range(450)
    ]
    read.vpcs = {
        "vpc-0": VpcSummary(vpc_id="vpc-0", is_default=True, cidrs=["172.31.0.0/16"]),
        "vpc-1": VpcSummary(vpc_id="vpc-1", cidrs=["10.0.0.0/16"]),
    }
    batches = snapshot_batches("s1", "111111111111", "us-east-1", read, 200)
    assert [len(b.groups) for b in batches] == [200, 200, 50]
    assert [g.config.group_id for b in batches for g in b.groups] == [f"sg-{n}" for n in range(450)]
    assert [[v.vpc_id for v in b.vpcs] for b in batches] == [
        ["vpc-0"],
        ["vpc-0", "vpc-1"],
        ["vpc-1"],
    ]
    assert all(b.observed_at == read.observed_at for b in batches)
    # Each fits comfortably in one RabbitMQ message.
    assert max(len(b.model_dump_json()) for b in batches) < 1_000_000


def test_an_empty_region_has_no_batch_and_routing_keys_name_account_and_region() -> None:
    read = RegionRead(observed_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert snapshot_batches("s1", "111111111111", "us-east-1", read, 200) == []
    assert routing_key("aws", "111111111111", "eu-west-1") == "aws.111111111111.eu-west-1"


def test_settings_keep_batches_within_200_and_clean_the_session_name() -> None:
    settings = Settings(role_session_name="secmonkey collector/eu")
    assert settings.role_session_name == "secmonkey-collector-eu"
    assert settings.batch_size == 200 and settings.routing_prefix == "aws"
    assert settings.renew_every == settings.scheduler_lease_seconds / 3
