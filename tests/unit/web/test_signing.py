"""Session signing and the console secret: what keeps a forged or stale cookie out."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from secmonkey.api.settings import Settings
from secmonkey.api.web.session import Signer

PRODUCTION = {
    "environment": "production",
    "amqp_url": "amqp://svc:pw@rabbit:5672/",
    "encryption_keys": "fVbnnrqzS2BMyYgI6y-3E0rr0sRoHqgYEzBBgM3bXOg=",
}


def test_a_signature_is_bound_to_the_secret_the_purpose_and_the_payload() -> None:
    signer = Signer(b"one secret")
    token = signer.sign("session", {"k": "abc", "c": "token"})
    assert signer.unsign("session", token, 60) == {
        "k": "abc",
        "c": "token",
        "t": pytest.approx(time.time(), abs=2),
    }
    assert Signer(b"another secret").unsign("session", token, 60) is None
    assert signer.unsign("signin", token, 60) is None  # a sign-in token is no session
    payload, signature = token.split(".")
    assert signer.unsign("session", payload[:-2] + "xx." + signature, 60) is None
    for junk in ("", "no-dot", "a.b.c", "!!!.???", "x" * 5000):
        assert signer.unsign("session", junk, 60) is None


def test_an_old_token_is_refused() -> None:
    signer = Signer(b"secret")
    token = signer.sign("session", {"k": "abc"})
    assert signer.unsign("session", token, 3600) is not None
    assert signer.unsign("session", token, -1) is None


def test_production_refuses_a_placeholder_or_short_console_secret() -> None:
    for secret in ("changeme", "secret", "short-but-not-placeholder"):
        with pytest.raises(ValidationError, match="SECMONKEY_CONSOLE_SECRET"):
            Settings(**PRODUCTION, console_secret=secret)
    settings = Settings(**PRODUCTION, console_secret="x9" * 20)
    assert settings.console_secret is not None
    # development accepts anything, and an unset secret means a random one per process
    assert Settings(environment="development", console_secret="dev").console_secret is not None
    assert Settings(environment="development").console_secret is None
