"""Per-service RabbitMQ users: each may write only the exchanges it publishes to and read
only the queues it consumes; none may configure (declare or delete) anything, which is
`secmonkey admin provision`'s, under the broker's admin user.

RabbitMQ checks `write` on the exchange a message is published to and `read` on the queue
consumed (`basic.consume`, `basic.get`, `queue.purge`); passive declarations (the check at
start) need no permission. The default exchange (`amq.default`) routes to any queue by
name, so only the services that send sweep requests (API, collector scheduler) and
replay dead letters (API) may write it; the auditor takes `SweepCompleted` only from the
snapshots exchange that only the collector may write, and holds mass deletions anyway.

Applied with `rabbitmqctl` (local) or as a definitions file (`load_definitions`, or
`rabbitmqadmin import`) in production.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from secmonkey.common.amqp.topology import (
    AUDITOR_QUEUE,
    NOTIFIER_QUEUE,
    SECURITYHUB_QUEUE,
    SWEEPS,
    QueueSpec,
    auditor_queues,
)
from secmonkey.common.messages import DEAD_LETTER_EXCHANGE, EVENTS_EXCHANGE, SNAPSHOTS_EXCHANGE
from secmonkey.common.storage.collections import Service

DEFAULT_EXCHANGE = "amq.default"
NOTHING = "^$"


@dataclass(frozen=True)
class Permissions:
    """What one broker user may do in the virtual host (RabbitMQ's three regexes)."""

    write: tuple[str, ...]  # exchanges it publishes to
    read: tuple[str, ...]  # queues it consumes or reads
    configure: tuple[str, ...] = ()  # nothing: the provisioner declares

    def regexes(self) -> tuple[str, str, str]:
        """(configure, write, read), anchored."""
        return (_regex(self.configure), _regex(self.write), _regex(self.read))


def _regex(names: Iterable[str]) -> str:
    names = sorted(set(names))
    if not names:
        return NOTHING
    return "^(" + "|".join(re.escape(n) for n in names) + ")$"


def _dead_letter_queues() -> list[str]:
    return [
        spec.dead_letter_queue
        for spec in (SWEEPS, AUDITOR_QUEUE, NOTIFIER_QUEUE, SECURITYHUB_QUEUE)
    ]


def permissions(
    sweeps: QueueSpec = SWEEPS,
    auditor: QueueSpec = AUDITOR_QUEUE,
    notifier: QueueSpec = NOTIFIER_QUEUE,
    securityhub: QueueSpec = SECURITYHUB_QUEUE,
    partitions: int = 0,
) -> dict[Service, Permissions]:
    """Each service's permissions on the topology of `secmonkey.common.amqp.topology`
    (with `partitions`, the auditor's are its partition queues, and the single queue of an
    earlier release that it drains)."""
    auditors = [auditor] + [
        spec for n, spec in auditor_queues(partitions, auditor) if n is not None
    ]
    return {
        # consumes sweep requests; publishes snapshots, its watchdog's system.* events and
        # scheduled sweep requests (default exchange); dead-letters its own queue's messages
        "collector": Permissions(
            write=(
                SNAPSHOTS_EXCHANGE,
                EVENTS_EXCHANGE,
                DEFAULT_EXCHANGE,
                sweeps.dead_letter_exchange,
                securityhub.dead_letter_exchange,
            ),
            read=(sweeps.name, securityhub.name),  # and the Security Hub export's events
        ),
        # consumes snapshots; publishes events; dead-letters its own queue's messages
        "auditor": Permissions(
            write=(EVENTS_EXCHANGE, *(a.dead_letter_exchange for a in auditors)),
            read=tuple(a.name for a in auditors),
        ),
        # consumes events; dead-letters its own queue's messages and parks undelivered alerts
        "notifier": Permissions(
            write=(notifier.dead_letter_exchange, DEAD_LETTER_EXCHANGE), read=(notifier.name,)
        ),
        # publishes sweep requests and replays dead letters (default exchange) and
        # issue.justified; lists, replays and purges the dead-letter queues
        "api": Permissions(
            write=(DEFAULT_EXCHANGE, EVENTS_EXCHANGE),
            read=tuple(s.dead_letter_queue for s in (sweeps, *auditors, notifier, securityhub)),
        ),
    }


def user_name(service: Service) -> str:
    return f"secmonkey-{service}"


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's `rabbit_password_hashing_sha256`: base64(salt + sha256(salt + password))."""
    salt = os.urandom(4) if salt is None else salt
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def definitions(
    vhost: str,
    passwords: Mapping[Service, str],
    users: Mapping[Service, str] | None = None,
    partitions: int = 0,
) -> dict[str, Any]:
    """A definitions file (users and permissions) for `rabbitmqadmin import` or
    `load_definitions`; queues and exchanges are declared by `secmonkey admin provision`."""
    names = users or {s: user_name(s) for s in passwords}
    perms = permissions(partitions=partitions)
    return {
        "users": [
            {
                "name": names[s],
                "password_hash": password_hash(passwords[s]),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": [],
            }
            for s in passwords
        ],
        "vhosts": [{"name": vhost}],
        "permissions": [
            dict(
                zip(
                    ("configure", "write", "read"),
                    perms[s].regexes(),
                    strict=True,
                ),
                user=names[s],
                vhost=vhost,
            )
            for s in passwords
        ],
    }


def _ctl(*args: str) -> str:
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    done = subprocess.run(  # noqa: S603 - fixed program, arguments built here
        [ctl, "--quiet", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {args[0]}: {done.stderr.strip() or done.stdout}")
    return done.stdout


def apply_with_rabbitmqctl(
    vhost: str,
    passwords: Mapping[Service, str],
    users: Mapping[Service, str] | None = None,
    partitions: int = 0,
) -> list[str]:
    """Create (or reset) each service's user with its permissions in `vhost`, with the
    local broker's `rabbitmqctl`; the user names."""
    names = users or {s: user_name(s) for s in passwords}
    perms = permissions(partitions=partitions)
    existing = set(_ctl("list_users", "--no-table-headers").split())
    for service, password in passwords.items():
        name = names[service]
        if name in existing:
            _ctl("change_password", name, password)
        else:
            _ctl("add_user", name, password)
        _ctl("set_permissions", "-p", vhost, name, *perms[service].regexes())
    return [names[s] for s in passwords]


def import_with_rabbitmqctl(definitions: dict[str, Any]) -> None:
    """Load `definitions` into the local broker. Through a file the broker's user can read
    (rabbitmqctl 3.10 takes no `-` for stdin); it holds password hashes, never passwords."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "definitions.json"
        path.write_text(json.dumps(definitions))
        path.chmod(0o644)
        Path(directory).chmod(0o755)
        _ctl("import_definitions", str(path))


def delete_with_rabbitmqctl(users: Iterable[str]) -> None:
    existing = set(_ctl("list_users", "--no-table-headers").split())
    for name in users:
        if name in existing:
            _ctl("delete_user", name)
