"""The HTTP client every webhook uses: it checks where it connects, and classifies answers.

The address check happens when the connection is opened, on the addresses actually
dialled, so a name that resolved to a public address when the subscription was saved
and to 169.254.169.254 now (DNS rebinding) is still refused. Redirects are not followed
and proxy environment variables are ignored: both would bypass the check.

An attempt has one deadline in all (`post`): a receiver that accepts and never answers,
or answers a byte at a time, cannot hold it longer.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import os
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import certifi
import httpcore
import httpx

from secmonkey.common import webhooks
from secmonkey.common.errors import InvalidInput
from secmonkey.notifier.channels.base import Outcome, redact

USER_AGENT = "secmonkey-notifier/0.1"
_BODY_LIMIT = 64 * 1024  # of an answer, read only to reuse its connection


class TargetRefused(Exception):
    """The webhook host is, or resolves to, an address the notifier must not call."""


Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order, without duplicates."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolve, refuse forbidden addresses, then dial the checked address itself."""

    def __init__(self, *, allow_private: bool, resolver: Resolver | None = None) -> None:
        self.allow_private = allow_private
        self._inner = httpcore.AnyIOBackend()
        self._resolver = resolver or system_resolver

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolve(host, port, timeout)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore.ConnectError(f"no address for {host}")

    async def _resolve(self, host: str, port: int, limit: float | None) -> list[str]:
        try:
            literal = webhooks.check_host(host, allow_private=self.allow_private)
        except InvalidInput as exc:
            raise TargetRefused(str(exc)) from None
        if literal is not None:
            return [str(literal)]
        try:
            async with asyncio.timeout(limit):
                addresses = await self._resolver(host, port)
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        try:
            webhooks.check_addresses(host, addresses, allow_private=self.allow_private)
        except InvalidInput as exc:
            raise TargetRefused(str(exc)) from None
        return addresses

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise TargetRefused("unix sockets are not webhook targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on a connection pool that dials through `GuardedBackend`."""

    def __init__(
        self, *, allow_private: bool, max_connections: int = 256, resolver: Resolver | None = None
    ) -> None:
        super().__init__(trust_env=False)
        # httpx offers no public hook for the network backend; the pool it builds is
        # replaced by the same pool with our backend (tests/unit/notifier covers it).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(cafile=certifi.where()),
            max_connections=max_connections,
            max_keepalive_connections=64,
            keepalive_expiry=30.0,
            network_backend=GuardedBackend(allow_private=allow_private, resolver=resolver),
        )


def make_client(
    *, allow_private: bool, timeout: float, resolver: Resolver | None = None
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=GuardedTransport(allow_private=allow_private, resolver=resolver),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
    )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def classify(response: httpx.Response) -> Outcome:
    """2xx delivered; 408, 429 and 5xx worth retrying; any other answer is permanent."""
    code = response.status_code
    if 200 <= code < 300:
        return Outcome.delivered(code)
    reason = f"HTTP {code} {response.reason_phrase}".strip()
    if code in (408, 429) or code >= 500:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return Outcome.retry(reason, code, retry_after)
    if 300 <= code < 400:
        return Outcome.failed(f"{reason}: redirects are not followed", code)
    return Outcome.failed(reason, code)


class _Progress:
    """How far one request got (httpcore's trace events): has any of it been sent?"""

    def __init__(self) -> None:
        self.sent = False

    async def __call__(self, event: str, info: dict[str, Any]) -> None:
        if event.endswith(".send_request_headers.started"):
            self.sent = True


async def post(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    secrets: list[str],
    *,
    deadline: float | None = None,
) -> Outcome:
    """POST once, all of it (connecting, sending, the answer) within `deadline` seconds.

    What went wrong decides what follows: nothing sent (refused, unreachable) is retried
    soon; sent without an answer in time is `unknown` (the receiver may have acted on it);
    an answer is classified by its status; a refused target is not retried. At most
    `_BODY_LIMIT` bytes of the answer are read, and only to keep the connection.
    """
    limit = deadline or client.timeout.read or 10.0
    progress = _Progress()
    end = asyncio.get_running_loop().time() + limit
    try:
        request = client.build_request(
            "POST", url, content=body, headers=headers, extensions={"trace": progress}
        )
        async with asyncio.timeout_at(end):
            response = await client.send(request, stream=True)
    except TargetRefused as exc:
        return Outcome.failed(redact(str(exc), secrets))
    except httpx.InvalidURL as exc:
        return Outcome.failed(redact(f"invalid URL: {exc}", secrets))
    except (TimeoutError, httpx.TransportError) as exc:
        return _unanswered(exc, progress.sent, limit, secrets)
    try:
        outcome = classify(response)
        with contextlib.suppress(TimeoutError, httpx.HTTPError):
            async with asyncio.timeout_at(end):
                await _drain(response)
    finally:
        with contextlib.suppress(Exception):
            await response.aclose()
    return outcome


async def _drain(response: httpx.Response) -> None:
    """Read a short answer to its end, so its connection can serve the next request."""
    read = 0
    async for chunk in response.aiter_raw():
        read += len(chunk)
        if read > _BODY_LIMIT:
            return


def _unanswered(exc: Exception, sent: bool, limit: float, secrets: list[str]) -> Outcome:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        what = f"no connection within {limit:g}s" if not sent else f"no answer within {limit:g}s"
    else:
        what = _describe(exc)
    if not sent:
        return Outcome.retry(redact(f"unreachable, nothing sent: {what}", secrets))
    return Outcome.unknown(
        redact(f"{what}; the request was sent and may have been received", secrets)
    )


def _describe(exc: BaseException) -> str:
    """The exception, with the system's word for its cause (anyio hides it: "All connection
    attempts failed" stands for "Connection refused", "No route to host", …)."""
    text = f"{type(exc).__name__}: {exc}".strip()
    cause = exc.__cause__ or exc.__context__
    for _ in range(5):
        if cause is None:
            break
        if isinstance(cause, OSError) and cause.errno:
            return f"{text} ({os.strerror(cause.errno)})"
        cause = cause.__cause__ or cause.__context__
    return text
