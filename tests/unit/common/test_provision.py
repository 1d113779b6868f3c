"""The provisioning step's pure parts: RabbitMQ permissions from the topology, the
definitions file's password hashes, and which users it makes."""

from __future__ import annotations

import base64
import hashlib
import re

from secmonkey.common.amqp import AUDITOR_QUEUE, NOTIFIER_QUEUE, SWEEPS
from secmonkey.common.messages import EVENTS_EXCHANGE, SNAPSHOTS_EXCHANGE
from secmonkey.common.provision import ProvisionSettings, Report, rabbit_users
from secmonkey.common.provision.run import own_users


def allows(regex: str, name: str) -> bool:
    return re.search(regex, name) is not None


def test_permissions_follow_the_topology() -> None:
    perms = {s: p.regexes() for s, p in rabbit_users.permissions().items()}
    for _service, (configure, _write, _read) in perms.items():
        assert configure == "^$"  # nobody declares or deletes: the provisioner does
        assert not allows(configure, "auditor.snapshots")
    writers = {s for s, (_, w, _) in perms.items() if allows(w, SNAPSHOTS_EXCHANGE)}
    assert writers == {"collector"}
    readers = {s for s, (_, _, r) in perms.items() if allows(r, NOTIFIER_QUEUE.name)}
    assert readers == {"notifier"}
    assert {s for s, (_, _, r) in perms.items() if allows(r, AUDITOR_QUEUE.name)} == {"auditor"}
    assert {s for s, (_, _, r) in perms.items() if allows(r, SWEEPS.name)} == {"collector"}
    assert {s for s, (_, w, _) in perms.items() if allows(w, "amq.default")} == {
        "collector",
        "api",
    }
    assert {s for s, (_, w, _) in perms.items() if allows(w, EVENTS_EXCHANGE)} == {
        "collector",
        "auditor",
        "api",
    }
    # anchored: a look-alike name matches nothing
    assert not allows(perms["collector"][2], "secmonkey.sweeps.dead")
    assert not allows(perms["notifier"][2], "notifier.events.x")


def test_definitions_hash_passwords_as_rabbitmq_does() -> None:
    salt = bytes.fromhex("908dc60a")
    expected = base64.b64encode(salt + hashlib.sha256(salt + b"s3cret").digest()).decode()
    assert rabbit_users.password_hash("s3cret", salt) == expected
    defs = rabbit_users.definitions("prod", {"notifier": "s3cret"}, {"notifier": "n1"})
    [user] = defs["users"]
    assert user["name"] == "n1" and "s3cret" not in str(defs)
    [perm] = defs["permissions"]
    assert perm["vhost"] == "prod" and perm["configure"] == "^$"


def test_users_are_made_only_for_service_urls_with_their_own_user() -> None:
    settings = ProvisionSettings(
        amqp_url="amqp://admin:x@rabbit:5672/",
        collector_amqp_url="amqp://secmonkey-collector:pw@rabbit:5672/",
        auditor_amqp_url="amqp://admin:x@rabbit:5672/",  # a dev stack with one account
        notifier_amqp_url="amqp://rabbit:5672/",  # no user at all
    )
    report = Report()
    assert own_users(settings, "amqp", report) == {"collector": ("secmonkey-collector", "pw")}
    assert len(report.skipped) == 2
    assert "admin's own user" in report.skipped[0] and "names no user" in report.skipped[1]


def test_with_partitions_the_auditor_may_read_each_partition_queue_only() -> None:
    perms = rabbit_users.permissions(partitions=2)
    _, write, read = perms["auditor"].regexes()
    pattern = re.compile(read)
    for queue in ("auditor.snapshots", "auditor.snapshots.p00", "auditor.snapshots.p01"):
        assert pattern.match(queue)
    assert not pattern.match("auditor.snapshots.p02")
    assert not pattern.match("notifier.events")
    assert re.compile(write).match("auditor.snapshots.p01.dlx")
    _, _, api_read = perms["api"].regexes()
    assert re.compile(api_read).match("auditor.snapshots.p01.dead")
