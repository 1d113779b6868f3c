"""`/sso/login` and `/sso/callback`: console sign-in through the OpenID Connect provider."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse

from secmonkey.api.auth_limits import Subject
from secmonkey.api.deps import Db, OutboxDep, count_failure
from secmonkey.api.problems import Problem
from secmonkey.api.security_settings import SecuritySettings
from secmonkey.api.web.deps import ConsoleForbidden, get_console_settings, get_signer
from secmonkey.api.web.routes.signin import open_session, safe_next
from secmonkey.api.web.session import Signer, cookie_options
from secmonkey.api.web.settings import ConsoleSettings
from secmonkey.api.web.sso import NoRole, OidcClient, SsoError, configured

log = logging.getLogger(__name__)
router = APIRouter(prefix="/sso")

SSO_COOKIE = "secmonkey_sso"
SSO_SECONDS = 600
SignerDep = Annotated[Signer, Depends(get_signer)]
SettingsDep = Annotated[ConsoleSettings, Depends(get_console_settings)]


def _client(request: Request) -> OidcClient:
    settings: SecuritySettings = request.app.state.settings
    if not configured(settings):
        raise ConsoleForbidden("Single sign-on is not configured; sign in with an API key.", 404)
    client: OidcClient | None = getattr(request.app.state, "oidc_client", None)
    if client is None:
        redirect = settings.public_url.rstrip("/") + "/console/sso/callback"
        client = request.app.state.oidc_client = OidcClient(settings, redirect)
    return client


@router.get("/login")
async def sso_login(
    request: Request, signer: SignerDep, settings: SettingsDep, next: str | None = None
) -> Response:
    client = _client(request)
    try:
        started = await client.start()
    except SsoError as exc:
        log.warning("single sign-on could not start: %s", exc)
        raise ConsoleForbidden(
            "The sign-on provider does not answer; try again later.", 502
        ) from None
    response = RedirectResponse(started.url, status_code=303)
    token = signer.sign(
        "sso",
        {"s": started.state, "n": started.nonce, "v": started.verifier, "x": safe_next(next)},
    )
    response.set_cookie(SSO_COOKIE, token, max_age=SSO_SECONDS, **cookie_options(request, settings))
    return response


@router.get("/callback")
async def sso_callback(
    request: Request,
    signer: SignerDep,
    settings: SettingsDep,
    db: Db,
    outbox: OutboxDep,
    code: Annotated[str, Query(max_length=2048)] = "",
    state: Annotated[str, Query(max_length=512)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    client = _client(request)
    pending = signer.unsign("sso", request.cookies.get(SSO_COOKIE, ""), SSO_SECONDS)
    if pending is None or not state or pending.get("s") != state:
        raise ConsoleForbidden("This sign-on did not start here or took too long; try again.")
    if error or not code:
        raise ConsoleForbidden(f"The sign-on provider refused: {error or 'no code'}.", 401)
    try:
        principal = await client.finish(code, str(pending["v"]), str(pending["n"]))
    except NoRole as refused:
        log.info("single sign-on refused: no mapped group", extra={"who": refused.who})
        try:
            await count_failure(request, Subject("user", refused.who))
        except Problem as limited:
            raise ConsoleForbidden(limited.detail, 429) from None
        raise ConsoleForbidden(
            f"You are signed in as {refused.who}, but none of your groups may use secmonkey."
        ) from None
    except SsoError as exc:
        log.warning("single sign-on failed: %s", exc)
        raise ConsoleForbidden("Single sign-on failed; try again.", 502) from None
    response = await open_session(
        request,
        db,
        outbox,
        signer,
        settings,
        principal,
        key_hash=None,
        target=str(pending.get("x") or "/"),
    )
    response.delete_cookie(SSO_COOKIE, path=cookie_options(request, settings)["path"])
    return response
