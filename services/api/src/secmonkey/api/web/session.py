"""Console sessions: a signed, HttpOnly cookie naming a server-side session record.

Signing in (with an API key, or by single sign-on) creates a record in `console_sessions`
(`sessions_store`); the cookie carries only its id, signed, so a stolen or logged-out
cookie is worthless once the record is gone: signing out, revoking or disabling the key
end the session on every replica at once. A key session is also checked against the
key's current role and state on every page. The cookie is `<payload>.<signature>`, both
URL-safe base64, the signature an HMAC-SHA256 with the console secret; it carries its
issue time and is refused after `console_session_hours`.

Every form carries the session's CSRF token (and the sign-in form one from a short-lived
signed cookie of its own); SameSite=Lax keeps the session cookie off cross-site posts too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from typing import Any

from fastapi import Request, Response

from secmonkey.api.web import sessions_store
from secmonkey.api.web.sessions_store import Session
from secmonkey.api.web.settings import ConsoleSettings
from secmonkey.common.storage import Database

log = logging.getLogger(__name__)

SESSION_COOKIE = "secmonkey_session"
LOGIN_COOKIE = "secmonkey_signin"
LOGIN_COOKIE_SECONDS = 3600
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
_CONTEXT = b"secmonkey-console-v1:"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """HMAC-SHA256 signatures over small JSON payloads, with an issue time and a purpose."""

    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.sha256(_CONTEXT + secret).digest()

    def _mac(self, purpose: str, payload: str) -> bytes:
        return hmac.new(self._key, f"{purpose}\x1f{payload}".encode(), hashlib.sha256).digest()

    def sign(self, purpose: str, data: dict[str, Any]) -> str:
        payload = _b64(json.dumps({**data, "t": int(time.time())}, separators=(",", ":")).encode())
        return f"{payload}.{_b64(self._mac(purpose, payload))}"

    def unsign(self, purpose: str, token: str, max_age: float) -> dict[str, Any] | None:
        """The payload if the signature is ours, for this purpose, and not older than max_age."""
        if not token or len(token) > 4096 or token.count(".") != 1:
            return None
        payload, signature = token.split(".")
        try:
            if not hmac.compare_digest(_unb64(signature), self._mac(purpose, payload)):
                return None
            data = json.loads(_unb64(payload))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("t"), int):
            return None
        age = time.time() - data["t"]
        if age < -60 or age > max_age:
            return None
        return data


def make_signer(settings: ConsoleSettings) -> Signer:
    if settings.console_secret is None:
        log.warning(
            "SECMONKEY_CONSOLE_SECRET is not set: console sessions are signed with a random "
            "secret of this process, so they end when it restarts and do not span replicas"
        )
        return Signer(secrets.token_bytes(32))
    return Signer(settings.console_secret.get_secret_value().encode())


def _secure(request: Request, settings: ConsoleSettings) -> bool:
    if settings.console_secure_cookie is not None:
        return settings.console_secure_cookie
    return settings.environment == "production" or request.url.scheme == "https"


def _cookie_path(request: Request) -> str:
    return str(request.scope.get("root_path") or "") or "/"


def cookie_options(request: Request, settings: ConsoleSettings) -> dict[str, Any]:
    """How every console cookie is sent: HttpOnly, SameSite=Lax, on the console's path."""
    return {
        "path": _cookie_path(request),
        "secure": _secure(request, settings),
        "httponly": True,
        "samesite": "lax",
    }


def session_id_of(request: Request, signer: Signer, settings: ConsoleSettings) -> str | None:
    """The session id the cookie names, if the cookie is ours and not too old."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    data = signer.unsign("session", token, settings.console_session_hours * 3600)
    if data is None:
        return None
    session_id = data.get("s")
    return session_id if isinstance(session_id, str) and len(session_id) <= 128 else None


async def read_session(
    request: Request, signer: Signer, settings: ConsoleSettings, db: Database
) -> Session | None:
    """The live server-side session the cookie names, or None."""
    session_id = session_id_of(request, signer, settings)
    return None if session_id is None else await sessions_store.load(db, session_id)


def start_session(
    response: Response,
    request: Request,
    signer: Signer,
    settings: ConsoleSettings,
    session: Session,
) -> Session:
    """Set the cookie of a fresh session (created in `sessions_store`)."""
    response.set_cookie(
        SESSION_COOKIE,
        signer.sign("session", {"s": session.id}),
        max_age=int(settings.console_session_hours * 3600),
        path=_cookie_path(request),
        secure=_secure(request, settings),
        httponly=True,
        samesite="lax",
    )
    response.delete_cookie(LOGIN_COOKIE, path=_cookie_path(request))
    return session


def end_session(response: Response, request: Request, settings: ConsoleSettings) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path=_cookie_path(request),
        secure=_secure(request, settings),
        httponly=True,
        samesite="lax",
    )


def login_token(request: Request, signer: Signer) -> tuple[str, str | None]:
    """The sign-in form's CSRF token, and the cookie to set when there is none yet."""
    existing = request.cookies.get(LOGIN_COOKIE)
    if existing:
        data = signer.unsign("signin", existing, LOGIN_COOKIE_SECONDS)
        if data is not None and isinstance(data.get("c"), str):
            return str(data["c"]), None
    token = secrets.token_urlsafe(24)
    return token, signer.sign("signin", {"c": token})


def set_login_cookie(
    response: Response, request: Request, settings: ConsoleSettings, value: str
) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        value,
        max_age=LOGIN_COOKIE_SECONDS,
        path=_cookie_path(request),
        secure=_secure(request, settings),
        httponly=True,
        samesite="lax",
    )


def login_csrf_ok(request: Request, signer: Signer, submitted: str) -> bool:
    cookie = request.cookies.get(LOGIN_COOKIE)
    if not cookie or not submitted:
        return False
    data = signer.unsign("signin", cookie, LOGIN_COOKIE_SECONDS)
    return data is not None and hmac.compare_digest(str(data.get("c", "")), submitted)


def csrf_ok(session: Session, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(session.csrf, submitted or "")
