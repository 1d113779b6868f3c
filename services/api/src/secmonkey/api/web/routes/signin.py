"""Signing in with an API key (exchanged for a session cookie) and signing out."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from secmonkey.api.audit.trail import Actor, Trail, Via
from secmonkey.api.auth import KeyVerifier, Principal
from secmonkey.api.auth_limits import Subject
from secmonkey.api.client_address import address_of
from secmonkey.api.deps import Db, OutboxDep, count_failure, get_verifier
from secmonkey.api.problems import Problem
from secmonkey.api.web import sessions_store
from secmonkey.api.web.deps import (
    ConsoleForbidden,
    ViewerForm,
    get_console_settings,
    get_signer,
)
from secmonkey.api.web.rendering import render, root_of
from secmonkey.api.web.session import (
    Signer,
    end_session,
    login_csrf_ok,
    login_token,
    set_login_cookie,
    start_session,
)
from secmonkey.api.web.settings import ConsoleSettings
from secmonkey.api.web.sso import configured as sso_configured
from secmonkey.common.documents import hash_api_key
from secmonkey.common.outbox import Outbox
from secmonkey.common.storage import Database

log = logging.getLogger(__name__)
router = APIRouter()

SignerDep = Annotated[Signer, Depends(get_signer)]
SettingsDep = Annotated[ConsoleSettings, Depends(get_console_settings)]


def safe_next(value: str | None) -> str:
    """A console-relative path to go back to; anything else (another site) becomes `/`."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value[:2000]


def _login_page(
    request: Request,
    signer: Signer,
    settings: ConsoleSettings,
    next_url: str,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    token, cookie = login_token(request, signer)
    response = render(
        request,
        "login.html",
        {
            "title": "Sign in",
            "login_csrf": token,
            "next": next_url,
            "error": error,
            "sso": sso_configured(request.app.state.settings),
        },
        status_code=status_code,
    )
    if cookie is not None:
        set_login_cookie(response, request, settings, cookie)
    return response


@router.get("/login")
async def login_form(
    request: Request, signer: SignerDep, settings: SettingsDep, next: str | None = None
) -> Response:
    return _login_page(request, signer, settings, safe_next(next))


@router.post("/login")
async def login(
    request: Request,
    signer: SignerDep,
    settings: SettingsDep,
    verifier: Annotated[KeyVerifier, Depends(get_verifier)],
    db: Db,
    outbox: OutboxDep,
    key: Annotated[str, Form(max_length=512)] = "",
    csrf: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    target = safe_next(next)
    if not login_csrf_ok(request, signer, csrf):
        raise ConsoleForbidden(
            "The sign-in form expired or did not come from this console; reload it and try again."
        )
    principal = await verifier.verify(key.strip())
    if principal is None:
        log.info("console sign-in refused: unknown, disabled or expired key")
        try:
            await count_failure(request, Subject.of_key(key.strip()))
        except Problem as limited:
            page = _login_page(
                request, signer, settings, target, error=limited.detail, status_code=429
            )
            page.headers.update(limited.headers or {})
            return page
        return _login_page(
            request,
            signer,
            settings,
            target,
            error="That API key is unknown or disabled (or expired).",
            status_code=401,
        )
    return await open_session(
        request,
        db,
        outbox,
        signer,
        settings,
        principal,
        key_hash=hash_api_key(key.strip()),
        target=target,
    )


async def open_session(
    request: Request,
    db: Database,
    outbox: Outbox,
    signer: Signer,
    settings: ConsoleSettings,
    principal: Principal,
    *,
    key_hash: str | None,
    target: str,
) -> Response:
    """Create the server-side session, set its cookie, record the sign-in; go to `target`."""
    client = address_of(request)
    session = await sessions_store.create(
        db,
        settings.console_session_hours,
        key_id=principal.key_id,
        key_hash=key_hash,
        user=principal if key_hash is None else None,
        client=client,
    )
    response = RedirectResponse(root_of(request) + target, status_code=303)
    start_session(response, request, signer, settings, session)
    via: Via = "sso" if principal.user else "console"
    trail = Trail(db, outbox, Actor.of(principal), client, via, principal)
    await trail.record("console.signed_in", principal.name, after={"role": principal.role})
    log.info("console sign-in", extra={"key_name": principal.name, "role": principal.role})
    return response


@router.post("/logout")
async def logout(
    request: Request,
    caller: ViewerForm,
    settings: SettingsDep,
    db: Db,
    outbox: OutboxDep,
) -> Response:
    await sessions_store.end(db, caller.session.id)
    principal = caller.principal
    trail = Trail(db, outbox, Actor.of(principal), address_of(request), "console", principal)
    await trail.record("console.signed_out", principal.name)
    response = RedirectResponse(root_of(request) + "/login", status_code=303)
    end_session(response, request, settings)
    return response
