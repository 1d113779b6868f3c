"""Webhook safety: forbidden targets are refused with a clear reason; secrets never leak."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from secmonkey.common.documents import Channel
from tests.integration.notifier.conftest import make_event, subscription, until
from tests.support.servers import HttpReceiver

pytestmark = pytest.mark.integration


async def _failed(h: Any, expected: int) -> bool:
    return await h.db.deliveries.count_documents({"status": "failed"}) >= expected


async def test_metadata_and_plain_http_targets_are_refused_with_a_clear_message(
    start_notifier: Any, http_receiver: HttpReceiver
) -> None:
    """Even with loopback allowed, the metadata service is never called, nor http when not allowed."""
    metadata = subscription(
        Channel(type="generic", url="https://169.254.169.254/latest/meta-data/", secret="k1"),
        name="metadata",
    )
    plain = subscription(
        Channel(type="slack", url=f"{http_receiver.url}/services/T/B/x"), name="plain-http"
    )
    async with start_notifier(
        [metadata, plain], webhook_allow_http=False, webhook_allow_private=True
    ) as h:
        await h.publish(make_event())
        assert await until(lambda: _failed(h, 2))
        deliveries = {d["subscription_name"]: d for d in await h.deliveries()}
        dead = await h.undelivered()

    assert http_receiver.received == []
    assert deliveries["metadata"]["attempt_count"] == 1
    assert (
        "169.254.169.254 is a cloud instance-metadata address"
        in deliveries["metadata"]["last_error"]
    )
    assert "must use https" in deliveries["plain-http"]["last_error"]
    assert len(dead) == 2


async def test_loopback_is_refused_unless_allowed(
    start_notifier: Any, http_receiver: HttpReceiver
) -> None:
    sub = subscription(
        Channel(type="generic", url=f"http://localhost:{http_receiver.port}/h", secret="k")
    )
    async with start_notifier([sub], webhook_allow_private=False) as h:
        await h.publish(make_event())
        assert await until(lambda: _failed(h, 1))
        [delivery] = await h.deliveries()
    assert http_receiver.received == []
    assert "loopback" in delivery["last_error"]


async def test_no_secret_reaches_the_logs_or_deliveries(
    start_notifier: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack/Teams URLs and signing secrets are credentials: only scheme and host are recorded."""
    receiver = HttpReceiver(lambda n, r: (500, {}) if n <= 2 else (404, {})).start()
    slack_token = "T0SECRET/B0SECRET/xoxbSECRETTOKEN"
    signing = "whsec-super-secret-value"
    subs = [
        subscription(Channel(type="slack", url=f"{receiver.url}/services/{slack_token}")),
        subscription(
            Channel(type="generic", url=f"{receiver.url}/h?token=querySECRET", secret=signing)
        ),
    ]
    caplog.set_level(logging.DEBUG, logger="secmonkey")
    try:
        async with start_notifier(subs) as h:
            await h.publish(make_event())
            assert await until(lambda: _failed(h, 2))
            await asyncio.sleep(0.2)
            deliveries = await h.deliveries()
            dead = await h.undelivered()
    finally:
        receiver.stop()

    stored = json.dumps(deliveries, default=str) + "".join(m.body.decode() for m in dead)
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    for secret in (slack_token, "xoxbSECRETTOKEN", "querySECRET", signing):
        assert secret not in stored
        assert secret not in logged
    assert {d["target"] for d in deliveries} == {f"http://127.0.0.1:{receiver.port}/…"}
    assert len(receiver.received) >= 3  # the attempts really happened (and failed)
