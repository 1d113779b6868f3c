"""Several broker addresses: connect to the first that answers, move on when it is lost.

aio-pika's robust connection reconnects to the one URL it was given forever; with a
RabbitMQ cluster the node it knew may be the one that is down. `SECMONKEY_AMQP_URL` may
list several addresses, comma-separated (`amqp://u:p@node1:5672/v,amqp://u:p@node2:5672/v`):
every reconnection attempt (after a lost connection or a failed attempt) tries the next
address in turn, and channels and consumers are restored on whichever node answers.
"""

from __future__ import annotations

import logging
from typing import Any

from aio_pika import RobustConnection
from yarl import URL

log = logging.getLogger(__name__)


def broker_urls(value: str) -> list[str]:
    """The addresses a setting lists (comma-separated); at least one."""
    urls = [u.strip() for u in value.split(",") if u.strip()]
    if not urls:
        raise ValueError("no RabbitMQ address given")
    return urls


class FailoverConnection(RobustConnection):
    """A robust connection that rotates through its addresses on every reconnection."""

    def __init__(self, urls: list[str], **kwargs: Any) -> None:
        self.urls = [URL(u) for u in urls]
        self._at = 0
        self._attempts = 0
        super().__init__(self.urls[0], **kwargs)

    async def _RobustConnection__connect_transport(self) -> None:  # noqa: N802
        # aio-pika's one connection attempt (a private method: the only place every
        # attempt, first or reconnection, passes through). Each attempt after the first
        # moves to the next address; tests/integration/common/test_failover.py holds it.
        if self._attempts and len(self.urls) > 1:
            self._at = (self._at + 1) % len(self.urls)
            self.url = self.urls[self._at]
            log.info("RabbitMQ: trying %s:%s", self.url.host, self.url.port)
        self._attempts += 1
        await RobustConnection._RobustConnection__connect_transport(self)  # type: ignore[attr-defined]


async def connect_failover(urls: list[str], **kwargs: Any) -> RobustConnection:
    """Connect to the first address that answers (each in turn), robustly thereafter."""
    last: Exception | None = None
    for start in range(len(urls)):
        ordered = urls[start:] + urls[:start]
        connection = FailoverConnection(ordered, **kwargs)
        try:
            await connection.connect()
        except Exception as exc:  # this address does not answer: the next one
            last = exc
            await connection.close()
            log.warning("RabbitMQ at %s unavailable: %s", URL(urls[start]).host, exc)
            continue
        return connection
    assert last is not None
    raise last
