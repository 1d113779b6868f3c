"""When a delivery is tried again: soon when nothing reached the receiver, late when an
attempt went unanswered, and never a third post to Slack or Teams."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from secmonkey.common.delivery_schedule import Attempt
from secmonkey.notifier.channels.base import Outcome
from secmonkey.notifier.retries import GiveUp, Retry, RetryPolicy
from secmonkey.notifier.settings import Settings

POLICY = RetryPolicy(base=2.0, cap=600.0, ambiguous=300.0, max_age=86400.0)
REFUSED = Outcome.retry("unreachable, nothing sent: ConnectError (Connection refused)")
UNANSWERED = Outcome.unknown(
    "no answer within 10s; the request was sent and may have been received"
)
ANSWERED_503 = Outcome.retry("HTTP 503 Service Unavailable", 503)


def attempts(*outcomes: str) -> list[Attempt]:
    at = datetime(2026, 12, 6, tzinfo=UTC)
    return [
        Attempt(n=i, at=at, outcome=o, duration_ms=1.0)  # type: ignore[arg-type]
        for i, o in enumerate(outcomes, 1)
    ]


def delay(decision: Retry | GiveUp) -> float:
    assert isinstance(decision, Retry), decision
    return decision.delay


def test_an_unreachable_receiver_is_retried_soon_with_backoff() -> None:
    first = delay(POLICY.after("generic", [], REFUSED, age=0, rng=lambda: 1.0))
    fourth = delay(POLICY.after("generic", attempts(*["retry"] * 3), REFUSED, 30, lambda: 1.0))
    assert (first, fourth) == (2.0, 16.0)


@pytest.mark.parametrize("channel", ["generic", "slack", "teams"])
def test_an_unanswered_attempt_gives_a_slow_receiver_time_to_answer(channel: str) -> None:
    """The receiver that hung for 90 s got the alert five times; it now gets it twice at most."""
    wait = delay(POLICY.after(channel, [], UNANSWERED, age=10, rng=lambda: 0.0))
    assert wait == 300.0
    assert delay(POLICY.after(channel, [], UNANSWERED, 10, rng=lambda: 1.0)) <= 330.0


def test_each_further_unanswered_attempt_doubles_the_wait() -> None:
    earlier = attempts("unknown", "retry", "unknown")
    assert delay(POLICY.after("generic", earlier, UNANSWERED, 900, lambda: 0.0)) == 1200.0


def test_a_receiver_that_answers_or_refuses_after_an_unanswered_attempt_is_retried_soon() -> None:
    earlier = attempts("unknown")
    assert delay(POLICY.after("generic", earlier, ANSWERED_503, 400, lambda: 1.0)) == 4.0
    assert delay(POLICY.after("generic", earlier, REFUSED, 400, lambda: 1.0)) == 4.0


@pytest.mark.parametrize("channel", ["slack", "teams"])
@pytest.mark.parametrize("outcome", [UNANSWERED, ANSWERED_503])
def test_slack_and_teams_get_one_more_request_after_an_unanswered_one(
    channel: str, outcome: Outcome
) -> None:
    """They cannot drop duplicates: two posts of one alert at most."""
    decision = POLICY.after(channel, attempts("retry", "unknown", "retry"), outcome, 500)
    assert isinstance(decision, GiveUp)
    assert f"{channel} does not drop duplicates" in decision.reason
    assert (outcome.error or "") in decision.reason


@pytest.mark.parametrize("channel", ["slack", "teams"])
def test_slack_and_teams_keep_trying_while_nothing_reaches_them(channel: str) -> None:
    """A refused connection posts nothing, so it does not use up the second post."""
    assert delay(POLICY.after(channel, attempts("unknown"), REFUSED, 400, lambda: 1.0)) == 4.0
    assert delay(POLICY.after(channel, attempts("retry"), ANSWERED_503, 10, lambda: 1.0)) == 4.0


def test_a_delivery_is_given_up_at_its_maximum_age_with_its_reason() -> None:
    policy = RetryPolicy(base=2.0, cap=600.0, ambiguous=300.0, max_age=3600.0)
    decision = policy.after("generic", attempts(*["retry"] * 9), REFUSED, 3599, lambda: 0.0)
    assert decision == GiveUp(f"gave up after 10 attempts over 3599s: {REFUSED.error}")
    late = policy.after("generic", attempts("retry"), UNANSWERED, 3400, lambda: 0.0)
    assert late == GiveUp(f"gave up after 2 attempts over 3400s: {UNANSWERED.error}")


def test_the_wait_after_an_unanswered_attempt_must_outlast_an_attempt() -> None:
    with pytest.raises(ValidationError, match="SECMONKEY_AMBIGUOUS_RETRY_SECONDS"):
        Settings(webhook_timeout=10, ambiguous_retry_seconds=10)
    with pytest.raises(ValidationError, match="SECMONKEY_SMTP_TIMEOUT"):
        Settings(webhook_timeout=5, smtp_timeout=30, ambiguous_retry_seconds=20)
    s = Settings()
    assert s.ambiguous_retry_seconds > s.webhook_timeout
    assert RetryPolicy.of(s).ambiguous == s.ambiguous_retry_seconds
