"""Settings refuse what would be unsafe in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from secmonkey.notifier.settings import Settings


def test_placeholder_smtp_password_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="SECMONKEY_SMTP_PASSWORD"):
        Settings(
            environment="production",
            amqp_url="amqp://svc:pw@rabbit:5672/",
            encryption_keys="fVbnnrqzS2BMyYgI6y-3E0rr0sRoHqgYEzBBgM3bXOg=",  # type: ignore[arg-type]
            smtp_password="changeme",  # type: ignore[arg-type]
        )
    Settings(environment="development", smtp_password="changeme")  # type: ignore[arg-type]


def test_safe_defaults() -> None:
    s = Settings()
    assert s.webhook_allow_http is False and s.webhook_allow_private is False
    assert s.smtp_security == "starttls"
    assert s.queue == "notifier.events" and s.queue_bindings == ["#"]


def test_password_is_not_shown() -> None:
    s = Settings(smtp_password="hunter2-real")  # type: ignore[arg-type]
    assert "hunter2-real" not in repr(s) and "hunter2-real" not in str(s.model_dump())
