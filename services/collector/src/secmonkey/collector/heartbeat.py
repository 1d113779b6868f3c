"""The heartbeat: a dead-man's switch that someone outside secmonkey watches.

After each complete sweep of an account (every region read to the end), the collector
calls `SECMONKEY_HEARTBEAT_URL` (a monitoring service's check-in URL), at most once per
`SECMONKEY_HEARTBEAT_MIN_SECONDS` per replica. When sweeps stop completing, for whatever
reason, including secmonkey being down altogether, the calls stop and the service
outside raises the alarm.

A call never holds up a sweep: it runs in the background with a short timeout, one at a
time, and its failure is logged and counted (`secmonkey_collector_heartbeats_total`).
The URL follows the webhook rules (`secmonkey.common.webhooks`, with the collector's
`SECMONKEY_WEBHOOK_ALLOW_HTTP` / `_ALLOW_PRIVATE`): checked at start, and again on the
addresses actually dialled (no redirect is followed, no proxy used). Only its scheme and
host are ever logged: check-in URLs carry their token in the path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from secmonkey.collector import metrics
from secmonkey.collector.settings import Settings
from secmonkey.common import webhooks

log = logging.getLogger(__name__)

USER_AGENT = "secmonkey-collector/0.1"
_STATUS_LINE = re.compile(rb"^HTTP/\d(?:\.\d)? (\d{3})")

Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _tls_context() -> ssl.SSLContext:
    try:
        import certifi  # the same CA bundle as the notifier's webhooks, where installed
    except ImportError:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


class Heartbeat:
    """Calls the heartbeat URL in the background; `beat()` never waits and never raises."""

    def __init__(self, settings: Settings, resolver: Resolver | None = None) -> None:
        assert settings.heartbeat_url, "no heartbeat URL configured"
        self.settings = settings
        self.url = settings.heartbeat_url
        self.parts = webhooks.parse_webhook_url(self.url, allow_http=settings.webhook_allow_http)
        self.shown = webhooks.redact_url(self.url)
        self._resolver = resolver or system_resolver
        self._task: asyncio.Task[None] | None = None
        self._last = float("-inf")

    def beat(self) -> None:
        """Call the URL now, unless a call is under way or the last one was too recent."""
        if self._task is not None and not self._task.done():
            return
        now = time.monotonic()
        if now - self._last < self.settings.heartbeat_min_seconds:
            return
        self._last = now
        self._task = asyncio.create_task(self._call(), name="heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _call(self) -> None:
        error: str | None = None
        try:
            async with asyncio.timeout(self.settings.heartbeat_timeout):
                status = await self.send()
        except Exception as exc:  # its text never holds the URL's path, only the host
            error = f"{type(exc).__name__}: {exc}"
        else:
            if not 200 <= status < 300:
                error = f"answered {status}"
        if error is None:
            metrics.HEARTBEATS.labels("ok").inc()
            metrics.HEARTBEAT_LAST_SUCCESS.set_to_current_time()
        else:
            metrics.HEARTBEATS.labels("failed").inc()
            log.warning("heartbeat to %s failed: %s", self.shown, error)

    async def send(self) -> int:
        """One request; the status code of the answer."""
        parts = self.parts
        host = parts.hostname or ""
        tls = parts.scheme.lower() == "https"
        port = parts.port or (443 if tls else 80)
        allow_private = self.settings.webhook_allow_private
        literal = webhooks.check_host(host, allow_private=allow_private)
        addresses = [str(literal)] if literal is not None else await self._resolver(host, port)
        webhooks.check_addresses(host, addresses, allow_private=allow_private)
        reader, writer = await self._connect(addresses, port, host if tls else None)
        try:
            writer.write(self._request())
            await writer.drain()
            line = await reader.readline()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        match = _STATUS_LINE.match(line)
        if match is None:
            raise ConnectionError(f"not an HTTP answer: {line[:40]!r}")
        return int(match.group(1))

    async def _connect(
        self, addresses: list[str], port: int, server_hostname: str | None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Dial the checked addresses themselves (TLS still verifies the host's name)."""
        context = _tls_context() if server_hostname else None
        last: Exception = ConnectionError("no address to dial")
        for address in addresses:
            try:
                return await asyncio.open_connection(
                    address.split("%", 1)[0], port, ssl=context, server_hostname=server_hostname
                )
            except OSError as exc:
                last = exc
        raise last

    def _request(self) -> bytes:
        target = (self.parts.path or "/") + (f"?{self.parts.query}" if self.parts.query else "")
        target = quote(target, safe="/?&=%:@!$'()*+,;~")
        lines = [
            f"{self.settings.heartbeat_method} {target} HTTP/1.1",
            f"Host: {self.parts.netloc}",
            f"User-Agent: {USER_AGENT}",
            "Content-Length: 0",
            "Connection: close",
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii", "strict")
