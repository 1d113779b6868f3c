"""The heartbeat follows the webhook rules at the moment it dials, not only at start."""

from __future__ import annotations

import pytest

from secmonkey.collector.heartbeat import Heartbeat
from secmonkey.collector.settings import Settings
from secmonkey.common.errors import InvalidInput


def heartbeat(url: str, addresses: list[str], **settings: object) -> Heartbeat:
    async def resolver(host: str, port: int) -> list[str]:
        return addresses

    return Heartbeat(Settings(environment="test", heartbeat_url=url, **settings), resolver)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("addresses", "reason"),
    [
        (["169.254.169.254"], "metadata"),
        (["10.0.0.7"], "private"),
        (["93.184.215.14", "127.0.0.1"], "loopback"),  # no mixed answers
    ],
)
async def test_a_name_that_resolves_to_a_forbidden_address_is_not_dialled(
    addresses: list[str], reason: str
) -> None:
    beat = heartbeat("https://checks.example.com/ping/abc", addresses)
    with pytest.raises(InvalidInput, match=reason):
        await beat.send()


def test_the_request_is_a_bare_get_or_post_of_the_path() -> None:
    beat = heartbeat("https://checks.example.com:8443/ping/a b?x=1", ["93.184.215.14"])
    request = beat._request().decode()
    assert request.startswith("GET /ping/a%20b?x=1 HTTP/1.1\r\nHost: checks.example.com:8443\r\n")
    assert request.endswith("Content-Length: 0\r\nConnection: close\r\n\r\n")
    post = heartbeat("https://checks.example.com/p", [], heartbeat_method="POST")
    assert post._request().startswith(b"POST /p HTTP/1.1\r\n")
    assert "ping" not in beat.shown  # logs name the host, never the token in the path
