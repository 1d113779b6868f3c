"""When to retry, how long to wait, and what counts as permanent."""

from __future__ import annotations

import httpx
import pytest

from secmonkey.common.documents import Channel, Subscription
from secmonkey.notifier.channels.base import redact, secrets_of
from secmonkey.notifier.channels.http import classify, parse_retry_after
from secmonkey.notifier.retries import backoff


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    low = [backoff(n, 2.0, 60.0, rng=lambda: 0.0) for n in range(1, 8)]
    high = [backoff(n, 2.0, 60.0, rng=lambda: 1.0) for n in range(1, 8)]
    assert low == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert high == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]


def test_retry_after_wins_when_longer() -> None:
    assert backoff(1, 2.0, 60.0, retry_after=120.0, rng=lambda: 0.5) == 120.0
    assert backoff(3, 2.0, 60.0, retry_after=0.5, rng=lambda: 0.0) == 4.0


def test_retry_after_parses_seconds_and_http_dates() -> None:
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412480) == 30.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("status", "result"),
    [
        (200, "delivered"),
        (202, "delivered"),
        (204, "delivered"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
        (400, "failed"),
        (401, "failed"),
        (403, "failed"),
        (404, "failed"),
        (410, "failed"),
        (301, "failed"),
        (302, "failed"),
    ],
)
def test_status_classification(status: int, result: str) -> None:
    assert classify(httpx.Response(status)).result == result


def test_429_carries_retry_after() -> None:
    outcome = classify(httpx.Response(429, headers={"Retry-After": "7"}))
    assert outcome.retry_after == 7.0 and outcome.status_code == 429


def test_secrets_of_a_subscription_are_redacted_from_errors() -> None:
    sub = Subscription(
        id="s",
        name="n",
        channel=Channel(type="slack", url="https://hooks.slack.com/services/T1/B2/abcdefSECRET"),
    )
    secrets = secrets_of(sub)
    text = "error posting to https://hooks.slack.com/services/T1/B2/abcdefSECRET: boom"
    assert "SECRET" not in redact(text, secrets)
    assert redact("network error", ["k"]) == "network error"  # too short to be a secret
