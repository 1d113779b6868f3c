"""RabbitMQ's consumer_timeout is set, above the longest outage a consumer rides out
holding its message, and every way of starting a broker uses the same value."""

from __future__ import annotations

import re
from pathlib import Path

from bench.chaos.faults import catalogue

ROOT = Path(__file__).resolve().parents[3]
CONF = ROOT / "deploy" / "rabbitmq" / "rabbitmq.conf"


def consumer_timeout_ms() -> int:
    match = re.search(r"^consumer_timeout\s*=\s*(\d+)\s*$", CONF.read_text(), re.MULTILINE)
    assert match, f"no consumer_timeout in {CONF}"
    return int(match.group(1))


def test_consumer_timeout_outlasts_every_outage_the_chaos_suite_holds() -> None:
    longest = max(fault.hold for fault in catalogue().values())
    assert consumer_timeout_ms() > 2 * longest * 1000


def test_the_local_broker_and_the_chaos_nodes_start_with_the_file() -> None:
    assert (
        'RABBITMQ_CONFIG_FILE="$root/deploy/rabbitmq/rabbitmq.conf"'
        in (ROOT / "deploy" / "local" / "up.sh").read_text()
    )
    chaos = (ROOT / "bench" / "chaos" / "infra.py").read_text()
    assert '"RABBITMQ_CONFIG_FILE": str(RABBIT_CONFIG)' in chaos
    assert 'ROOT / "deploy" / "rabbitmq" / "rabbitmq.conf"' in chaos


def test_compose_mounts_the_file_and_the_dev_overlay_passes_the_same_value() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "./deploy/rabbitmq/rabbitmq.conf:/etc/rabbitmq/conf.d/" in compose
    infra = (ROOT / "deploy" / "k8s" / "overlays" / "dev" / "infra.yaml").read_text()
    assert f"-rabbit consumer_timeout {consumer_timeout_ms()}" in infra
