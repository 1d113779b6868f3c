"""The webhook client checks the addresses it actually dials (DNS rebinding), with real sockets."""

from __future__ import annotations

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
    assert outcome.result == "retry" and (outcome.error or "").startswith("network error")


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
