"""What console pages receive: the signed-in caller (or a redirect to sign in) and checked forms."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import AfterValidator, BeforeValidator

from secmonkey.api.auth import KeyVerifier, Principal
from secmonkey.api.deps import Db, get_verifier
from secmonkey.api.schemas.groups import GROUP_ID_PATTERN, VPC_ID_PATTERN
from secmonkey.api.schemas.issues import RULE_ID_PATTERN
from secmonkey.api.web.rendering import here_of
from secmonkey.api.web.session import (
    CSRF_FIELD,
    CSRF_HEADER,
    Signer,
    csrf_ok,
    read_session,
)
from secmonkey.api.web.sessions_store import Session
from secmonkey.api.web.settings import ConsoleSettings
from secmonkey.common.documents import Role
from secmonkey.common.messages import ACCOUNT_ID_PATTERN, REGION_PATTERN
from secmonkey.common.severity import Severity


class SignInRequired(Exception):
    """No valid session: the page answers with a redirect to the sign-in form."""

    def __init__(self, next_url: str) -> None:
        super().__init__("sign in to continue")
        self.next_url = next_url


class ConsoleForbidden(Exception):
    """The caller is signed in but may not do this (a role too low, a stale form)."""

    def __init__(self, message: str, status_code: int = 403) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


async def get_signer(request: Request) -> Signer:
    signer: Signer = request.app.state.console_signer
    return signer


async def get_console_settings(request: Request) -> ConsoleSettings:
    settings: ConsoleSettings = request.app.state.settings
    return settings


@dataclass(frozen=True)
class Caller:
    """The signed-in principal and its session (whose CSRF token every form carries)."""

    principal: Principal
    session: Session

    @property
    def csrf(self) -> str:
        return self.session.csrf

    def may(self, role: Role) -> bool:
        return self.principal.may(role)

    def page(self, **context: Any) -> dict[str, Any]:
        """The context every signed-in page template receives, plus `context`."""
        return {"user": self.principal, "csrf": self.csrf, **context}


async def _caller(
    request: Request,
    verifier: Annotated[KeyVerifier, Depends(get_verifier)],
    signer: Annotated[Signer, Depends(get_signer)],
    settings: Annotated[ConsoleSettings, Depends(get_console_settings)],
    db: Db,
) -> Caller:
    session = await read_session(request, signer, settings, db)
    if session is None:
        raise SignInRequired(here_of(request) if request.method == "GET" else "/")
    if session.key_hash is not None:
        principal = await verifier.verify_digest(session.key_hash)
    else:
        principal = session.user
    if principal is None:
        raise SignInRequired(here_of(request) if request.method == "GET" else "/")
    return Caller(principal=principal, session=session)


def signed_in(role: Role) -> Callable[..., Awaitable[Caller]]:
    """A page dependency: a session whose key has `role` or a higher one."""

    async def dependency(caller: Annotated[Caller, Depends(_caller)]) -> Caller:
        if not caller.may(role):
            raise ConsoleForbidden(
                f"This page needs the {role} role; you are signed in as "
                f"{caller.principal.name!r} with the {caller.principal.role} role."
            )
        return caller

    return dependency


def form_of(role: Role) -> Callable[..., Awaitable[Caller]]:
    """A form-post dependency: `signed_in(role)` plus the session's CSRF token in the form."""
    page = signed_in(role)

    # `page` is local to this function, so it cannot appear in a (string) annotation
    async def dependency(request: Request, caller: Caller = Depends(page)) -> Caller:  # noqa: B008
        form = await request.form()
        submitted = form.get(CSRF_FIELD)
        token = submitted if isinstance(submitted, str) else request.headers.get(CSRF_HEADER)
        if not csrf_ok(caller.session, token):
            raise ConsoleForbidden(
                "This form has expired or did not come from this console; reload the page "
                "and try again.",
            )
        return caller

    return dependency


def reads_reviews() -> Callable[..., Awaitable[Caller]]:
    """A page of the review queue: readers (viewer and up) and the `reviewer` role, which
    sees the changes it decides and nothing else."""

    async def dependency(caller: Annotated[Caller, Depends(_caller)]) -> Caller:
        if not (caller.may("viewer") or caller.may("reviewer")):
            raise ConsoleForbidden(f"The {caller.principal.role} role may not see reviews.")
        return caller

    return dependency


Viewer = Annotated[Caller, Depends(signed_in("viewer"))]
ReviewReader = Annotated[Caller, Depends(reads_reviews())]
ReviewerForm = Annotated[Caller, Depends(form_of("reviewer"))]
Auditor = Annotated[Caller, Depends(signed_in("auditor"))]
Admin = Annotated[Caller, Depends(signed_in("admin"))]
ViewerForm = Annotated[Caller, Depends(form_of("viewer"))]
AuditorForm = Annotated[Caller, Depends(form_of("auditor"))]
AdminForm = Annotated[Caller, Depends(form_of("admin"))]


def _empty_is_none(value: Any) -> Any:
    """A filter form submits every field; an empty one means "any"."""
    if isinstance(value, str) and not value.strip():
        return None
    return value.strip() if isinstance(value, str) else value


Blank = BeforeValidator(_empty_is_none)


def _matching(pattern: str, what: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str | None) -> str | None:
        if value is not None and not compiled.match(value):
            raise ValueError(f"expected {what}, got {value[:80]!r}")
        return value

    return AfterValidator(check)


def at_most(length: int) -> AfterValidator:
    """A length limit that lets None through (a `Query(max_length=…)` would not, after `Blank`)."""

    def check(value: str | None) -> str | None:
        if value is not None and len(value) > length:
            raise ValueError(f"at most {length} characters")
        return value

    return AfterValidator(check)


# Optional query filters of the console's forms: empty means "any", anything else is checked.
OptAccount = Annotated[
    str | None, Blank, _matching(ACCOUNT_ID_PATTERN, "a 12-digit AWS account ID"), Query()
]
OptRegion = Annotated[
    str | None, Blank, _matching(REGION_PATTERN, "a region such as us-east-1"), at_most(32), Query()
]
OptVpc = Annotated[
    str | None, Blank, _matching(VPC_ID_PATTERN, "a VPC ID such as vpc-0abc"), Query()
]
OptGroupId = Annotated[
    str | None, Blank, _matching(GROUP_ID_PATTERN, "a group ID such as sg-0abc"), Query()
]
OptRule = Annotated[str | None, Blank, _matching(RULE_ID_PATTERN, "an audit rule ID"), Query()]
OptText = Annotated[str | None, Blank, at_most(255), Query()]
OptCursor = Annotated[str | None, Blank, at_most(2048), Query()]
OptSeverity = Annotated[Severity | None, Blank, Query()]
