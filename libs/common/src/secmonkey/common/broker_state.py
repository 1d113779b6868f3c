"""What a publisher needs to know of its broker connection: whether it is open, whether a
resource alarm blocks it, and the errors a publish raises instead of hanging."""

from __future__ import annotations

import asyncio

from aio_pika.abc import AbstractConnection

from secmonkey.common.errors import TransientError

__all__ = [
    "DEFAULT_PUBLISH_TIMEOUT",
    "BrokerUnavailable",
    "PublishTimeout",
    "is_blocked",
    "is_connected",
]

DEFAULT_PUBLISH_TIMEOUT = 10.0


class PublishTimeout(TransientError, TimeoutError):
    """The broker did not confirm a publish within the deadline (unreachable, or blocked by a
    memory or disk alarm): nothing is known to be delivered; try again later."""


class BrokerUnavailable(TransientError):
    """The broker cannot take a publish now: not connected, or blocked by a resource alarm."""


def is_blocked(connection: AbstractConnection) -> bool:
    """Whether the broker blocked this connection (`connection.blocked`: a memory or disk
    alarm; it stops reading what the connection sends until `connection.unblocked`).

    aiormq handles both frames itself and keeps the state only in a private event (its
    writer and `ready()` wait on it); this is the one place that reads it.
    """
    underlay = getattr(getattr(connection, "transport", None), "connection", None)
    unblocked = getattr(underlay, "_Connection__connection_unblocked", None)
    return isinstance(unblocked, asyncio.Event) and not unblocked.is_set()


def is_connected(connection: AbstractConnection) -> bool:
    """Whether the connection is open now (a robust one may be between reconnections)."""
    connected = getattr(connection, "connected", None)
    if isinstance(connected, asyncio.Event):
        return connected.is_set() and not connection.is_closed
    return not connection.is_closed
