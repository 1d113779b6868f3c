"""What routes receive: the database, settings, outbox and the caller, as `Annotated` aliases."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from aio_pika.abc import AbstractRobustConnection
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from secmonkey.api.auth import KeyVerifier, Principal
from secmonkey.api.auth_limits import AuthLimiter, Subject, TooManyFailures
from secmonkey.api.client_address import address_of
from secmonkey.api.problems import Problem
from secmonkey.api.settings import Settings
from secmonkey.common.documents import Role
from secmonkey.common.outbox import Outbox
from secmonkey.common.runtime import Runtime
from secmonkey.common.storage import Capabilities, Database

_bearer = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer smk_…`")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="secmonkey"'}


# Every dependency is `async def`, however little it does: FastAPI runs a plain `def` one in
# a worker thread, a thread hop per dependency per request.
async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    if runtime is None:
        raise Problem(503, "the API is starting; try again in a moment")
    return runtime


async def get_db(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Database:
    return runtime.db


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_capabilities(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Capabilities:
    return runtime.capabilities


async def get_verifier(request: Request) -> KeyVerifier:
    verifier: KeyVerifier = request.app.state.verifier
    return verifier


async def get_outbox(request: Request, _: Annotated[Runtime, Depends(get_runtime)]) -> Outbox:
    """Where the API's publishes go first: they are sent at once when RabbitMQ takes them."""
    outbox: Outbox = request.app.state.outbox
    return outbox


async def get_rabbit(runtime: Annotated[Runtime, Depends(get_runtime)]) -> AbstractRobustConnection:
    if runtime.rabbit is None or runtime.rabbit.is_closed:
        raise Problem(503, "RabbitMQ is not connected; try again in a moment", kind="unavailable")
    return runtime.rabbit


Db = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CapabilitiesDep = Annotated[Capabilities, Depends(get_capabilities)]
Rabbit = Annotated[AbstractRobustConnection, Depends(get_rabbit)]
OutboxDep = Annotated[Outbox, Depends(get_outbox)]
Verifier = Annotated[KeyVerifier, Depends(get_verifier)]


async def count_failure(request: Request, subject: Subject) -> None:
    """Count a failed sign-in of `subject` and of the client's address; 429 past a limit."""
    limiter: AuthLimiter | None = getattr(request.app.state, "auth_limiter", None)
    if limiter is None:
        return
    address = address_of(request)
    try:
        await limiter.failed(subject, Subject("address", address), client=address)
    except TooManyFailures as refused:
        raise Problem(
            429,
            f"too many failed sign-ins; try again in {refused.retry_after} s",
            kind="rate-limited",
            headers={"Retry-After": str(refused.retry_after)},
        ) from None


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting callers whose key has `role` or a higher one."""

    async def dependency(
        request: Request,
        verifier: Verifier,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Problem(
                401,
                "an API key is required: send `Authorization: Bearer <key>`",
                kind="unauthorized",
                headers=_CHALLENGE,
            )
        principal = await verifier.verify(credentials.credentials)
        if principal is None:
            await count_failure(request, Subject.of_key(credentials.credentials))
            raise Problem(
                401,
                "the API key is unknown or disabled (or expired)",
                kind="unauthorized",
                headers=_CHALLENGE,
            )
        if not principal.may(role):
            raise Problem(
                403,
                f"this needs the {role} role; the key {principal.name!r} has {principal.role}",
                kind="forbidden",
            )
        return principal

    return dependency


Viewer = Annotated[Principal, Depends(require("viewer"))]
Auditor = Annotated[Principal, Depends(require("auditor"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Reviewer = Annotated[Principal, Depends(require("reviewer"))]
