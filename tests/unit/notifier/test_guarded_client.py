"""The webhook client checks the addresses it actually dials (DNS rebinding) and keeps each
attempt within its deadline, saying whether the request was sent, with real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from secmonkey.notifier.channels.http import TargetRefused, make_client, post
from tests.support.servers import HttpReceiver


def resolver_to(*addresses: str):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


async def test_a_public_name_that_resolves_to_loopback_is_refused(
    http_receiver: HttpReceiver,
) -> None:
    client = make_client(allow_private=False, timeout=2, resolver=resolver_to("127.0.0.1"))
    async with client:
        with pytest.raises(TargetRefused, match="loopback"):
            await client.post(f"http://hooks.example.com:{http_receiver.port}/x", content=b"{}")
    assert http_receiver.received == []


async def test_a_name_resolving_to_metadata_is_refused_even_when_private_is_allowed() -> None:
    client = make_client(allow_private=True, timeout=2, resolver=resolver_to("169.254.169.254"))
    async with client:
        outcome = await post(client, "http://rebind.example/latest", b"{}", {}, [])
    assert outcome.result == "failed" and "instance-metadata" in (outcome.error or "")


async def test_allowed_names_are_dialled_at_the_checked_address(
    http_receiver: HttpReceiver,
) -> None:
    client = make_client(allow_private=True, timeout=2, resolver=resolver_to("127.0.0.1"))
    async with client:
        response = await client.post(
            f"http://hooks.example.com:{http_receiver.port}/x", content=b"{}"
        )
    assert response.status_code == 200
    assert http_receiver.received[0].headers["Host"] == f"hooks.example.com:{http_receiver.port}"


async def test_connection_refused_is_worth_retrying() -> None:
    from tests.support.servers import free_port

    client = make_client(allow_private=True, timeout=2)
    async with client:
        outcome = await post(client, f"http://127.0.0.1:{free_port()}/x", b"{}", {}, [])
    assert outcome.result == "retry" and not outcome.sent
    assert "nothing sent" in (outcome.error or "") and "Connection refused" in (outcome.error or "")


async def test_redirects_are_not_followed(http_receiver: HttpReceiver) -> None:
    receiver = HttpReceiver(lambda n, r: (302, {"Location": "http://169.254.169.254/"})).start()
    try:
        client = make_client(allow_private=True, timeout=2)
        async with client:
            outcome = await post(client, f"{receiver.url}/x", b"{}", {}, [])
    finally:
        receiver.stop()
    assert outcome.result == "failed" and "redirects are not followed" in (outcome.error or "")
    assert isinstance(client, httpx.AsyncClient)


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[str]:
    """A TCP server on loopback that answers (or not) byte by byte as `handler` says."""
    tasks: set[asyncio.Task[None]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await handler(reader, writer)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        for task in tasks:
            task.cancel()
        server.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    await reader.readexactly(length)


async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    await asyncio.sleep(3600)


async def trickle_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100_000:
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(0.05)


async def trickle_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    while True:
        writer.write(b"x")
        await writer.drain()
        await asyncio.sleep(0.05)


async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)


@pytest.mark.parametrize("handler", [never_answer, trickle_headers, hang_up])
async def test_a_request_sent_without_an_answer_in_time_has_an_unknown_outcome(
    handler: Handler,
) -> None:
    """Accepting and never answering (or a byte at a time) cannot hold an attempt past its
    deadline, and the outcome says the receiver may have acted on it."""
    async with raw_server(handler) as url, make_client(allow_private=True, timeout=2) as client:
        outcome = await post(client, url, b"{}", {}, [], deadline=0.5)
    assert outcome.result == "unknown" and outcome.sent
    assert "may have been received" in (outcome.error or "")


async def test_an_answer_counts_even_if_its_body_never_ends() -> None:
    async with (
        raw_server(trickle_body) as url,
        make_client(allow_private=True, timeout=2) as client,
    ):
        outcome = await post(client, url, b"{}", {}, [], deadline=0.5)
    assert outcome.result == "delivered" and outcome.status_code == 200
