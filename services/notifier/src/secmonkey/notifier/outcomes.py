"""What becomes of an attempt: recorded as delivered, rescheduled, or failed.

When the next attempt is due, or whether there is one, is `retries.RetryPolicy`'s
decision. What fails for good is published to `<queue>.undelivered` (behind
`secmonkey.dlx`) with its events and reason, then recorded `failed`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import datetime, timedelta
from typing import Any

from secmonkey.common import amqp
from secmonkey.common.delivery_schedule import Attempt, Delivery
from secmonkey.common.messages import DEAD_LETTER_EXCHANGE, utcnow
from secmonkey.notifier import metrics
from secmonkey.notifier.channels.base import Outcome, redact
from secmonkey.notifier.deliveries import DeliveryStore
from secmonkey.notifier.retries import GiveUp, RetryPolicy
from secmonkey.notifier.settings import Settings

log = logging.getLogger(__name__)


class DeadLetters:
    """Deliveries that finally failed, as JSON on `<queue>.undelivered` (behind `secmonkey.dlx`)."""

    def __init__(self, publisher: amqp.Publisher, queue: str) -> None:
        self.publisher = publisher
        self.queue = queue

    async def publish(self, delivery: Delivery, reason: str) -> None:
        body = {
            "delivery_id": delivery.id,
            "kind": delivery.kind,
            "subscription_id": delivery.subscription_id,
            "subscription_name": delivery.subscription_name,
            "channel": delivery.channel,
            "target": delivery.target,
            "event_ids": delivery.event_ids,
            "events": [e.model_dump(mode="json") for e in delivery.parsed_events()],
            "attempts": delivery.attempt_count + 1,
            "reason": reason,
            "failed_at": utcnow().isoformat(),
        }
        await self.publisher.publish(
            DEAD_LETTER_EXCHANGE,
            self.queue,
            json.dumps(body).encode(),
            message_id=delivery.id,
            headers={amqp.REASON_HEADER: reason[:1000], amqp.SOURCE_QUEUE_HEADER: self.queue},
        )


class Outcomes:
    def __init__(self, settings: Settings, store: DeliveryStore, dead_letters: DeadLetters) -> None:
        self.settings = settings
        self.policy = RetryPolicy.of(settings)
        self.store = store
        self.dead_letters = dead_letters

    async def settle(
        self,
        delivery: Delivery,
        channel: str,
        outcome: Outcome,
        duration: float,
        secrets: list[str],
    ) -> float | None:
        """Record how an attempt ended; return the delay before the retry, if there is one."""
        now = utcnow()
        n = delivery.attempt_count + 1
        # belt and braces: senders already redact
        error = redact(outcome.error, secrets) if outcome.error else None
        attempt = Attempt(
            n=n,
            at=now,
            outcome=outcome.result,
            status_code=outcome.status_code,
            error=error,
            duration_ms=round(duration * 1000, 2),
        )
        log_extra: dict[str, Any] = {
            "delivery_id": delivery.id,
            "subscription_id": delivery.subscription_id,
            "channel": channel,
            "target": delivery.target,
            "attempt": n,
        }
        if outcome.result == "delivered":
            metrics.SENT.labels(channel).inc()
            metrics.LATENCY_SECONDS.labels(channel).observe(
                (now - delivery.created_at).total_seconds()
            )
            await self.store.record(
                delivery,
                attempt,
                {
                    "at": now,
                    "status": "delivered",
                    "delivered_at": now,
                    "last_status_code": outcome.status_code,
                    "last_error": error,
                },
            )
            log.debug("delivered %s", delivery.id, extra=log_extra)
            return None
        if outcome.result in ("retry", "unknown"):
            if outcome.result == "unknown":
                metrics.UNANSWERED.labels(channel).inc()
            age = (now - delivery.created_at).total_seconds()
            redacted = dataclasses.replace(outcome, error=error)
            decision = self.policy.after(channel, delivery.attempts, redacted, age)
            if isinstance(decision, GiveUp):
                await self._fail(delivery, attempt, decision.reason, now, channel, log_extra)
                return None
            next_at = now + timedelta(seconds=decision.delay)
            attempt.next_at = next_at
            await self.store.record(
                delivery,
                attempt,
                {
                    "at": now,
                    "due_at": next_at,
                    "last_status_code": outcome.status_code,
                    "last_error": error,
                },
            )
            metrics.RETRIED.labels(channel).inc()
            log.info(
                "attempt %s (%s); retry in %.1fs",
                "unanswered" if outcome.result == "unknown" else "failed",
                error,
                decision.delay,
                extra=log_extra,
            )
            return decision.delay
        await self._fail(delivery, attempt, error or "failed", now, channel, log_extra)
        return None

    async def _fail(
        self,
        delivery: Delivery,
        attempt: Attempt,
        reason: str,
        now: datetime,
        channel: str,
        log_extra: dict[str, Any],
    ) -> None:
        if attempt.outcome != "unknown":  # an unanswered last attempt may have been received
            attempt.outcome = "failed"
        await self.dead_letters.publish(delivery, reason)
        await self.store.record(
            delivery,
            attempt,
            {
                "at": now,
                "status": "failed",
                "failed_at": now,
                "dead_lettered": True,
                "last_status_code": attempt.status_code,
                "last_error": reason,
            },
        )
        metrics.FAILED.labels(channel).inc()
        log.warning("delivery failed for good: %s", reason, extra=log_extra)
