"""Periodic deletes of what expired: failed sign-in windows and console sessions (TTL
indexes are outside the database subset)."""

from __future__ import annotations

import asyncio
import logging

from secmonkey.api.auth_limits import AuthLimiter, Limits
from secmonkey.api.security_settings import SecuritySettings
from secmonkey.api.web import sessions_store
from secmonkey.common.outbox import Outbox
from secmonkey.common.storage import Database, is_transient

log = logging.getLogger(__name__)


def limiter_of(db: Database, outbox: Outbox, settings: SecuritySettings) -> AuthLimiter:
    limits = Limits(
        window_seconds=settings.auth_failure_window_seconds,
        per_subject=settings.auth_failures_per_key,
        per_address=settings.auth_failures_per_address,
    )
    return AuthLimiter(db, outbox, limits)


async def expire_loop(db: Database, limiter: AuthLimiter, period: float) -> None:
    while True:
        await asyncio.sleep(period)
        try:
            await limiter.expire()
            await sessions_store.expire(db)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not is_transient(exc):
                log.exception("deleting expired sign-in counters and sessions failed")
            else:
                log.warning("expiry skipped: the database is unavailable (%s)", exc)
