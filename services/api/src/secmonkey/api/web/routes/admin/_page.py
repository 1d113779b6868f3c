"""What every admin page shares: its table, re-rendered after each action with a notice or
with the API's refusal as a message (and the API's status).

A page declares only what differs: its section (which names its template and URL), its
title, the query that lists its rows, and its actions; each action is a call to the query
layer, so the console validates and writes exactly as `/api/v1` does.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError

from secmonkey.api.audit.deps import console_trail
from secmonkey.api.audit.trail import Trail
from secmonkey.api.deps import Db
from secmonkey.api.problems import Problem
from secmonkey.api.web.deps import Admin, AdminForm, Caller
from secmonkey.api.web.rendering import render
from secmonkey.common.errors import Conflict, InvalidInput, NotFound
from secmonkey.common.storage import Database

T = TypeVar("T")


class Refused(Exception):
    """An admin action the API refused: shown on the page, with the API's status."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


def validation_text(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()))
        reason = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {reason}" if where else reason)
    return "; ".join(parts)


async def attempt(action: Awaitable[T]) -> T:
    """`action`'s result, or `Refused` with the status the REST API would have answered."""
    try:
        return await action
    except (InvalidInput, ValidationError) as exc:
        text = validation_text(exc) if isinstance(exc, ValidationError) else str(exc)
        raise Refused(text, 422) from None
    except NotFound as exc:
        raise Refused(str(exc), 404) from None
    except Conflict as exc:
        raise Refused(str(exc), 409) from None
    except Problem as exc:
        raise Refused(exc.detail, exc.status) from None


def build(model: type[T], **fields: Any) -> T:
    """A request model from form fields; `Refused` (422) naming the fields that do not fit."""
    try:
        return model(**fields)
    except ValidationError as exc:
        raise Refused(validation_text(exc), 422) from None


def split(text: str) -> list[str]:
    return [part for part in re.split(r"[\s,]+", text.strip()) if part]


@dataclass(frozen=True)
class Visit:
    """What an admin page answers: the request, the database and the signed-in admin."""

    request: Request
    db: Database
    caller: Caller

    @property
    def trail(self) -> Trail:
        """Where this admin's changes are recorded (the audit log)."""
        return console_trail(self.request, self.db, self.caller.principal)


async def _viewing(request: Request, db: Db, caller: Admin) -> Visit:
    return Visit(request, db, caller)


async def _posting(request: Request, db: Db, caller: AdminForm) -> Visit:
    return Visit(request, db, caller)


AdminGet = Annotated[Visit, Depends(_viewing)]
AdminPost = Annotated[Visit, Depends(_posting)]  # a form post, its CSRF token checked


def _nothing_more(_: list[Any]) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class AdminPage:
    """One admin page: `admin/<section>.html`, its table the rows `listed` reads (named
    `rows` in the template, with whatever `more` adds), served at `/admin/<section>` by
    `router`, where the page's own actions are added."""

    section: str
    title: str
    rows: str
    listed: Callable[[Database], Awaitable[list[Any]]]
    more: Callable[[list[Any]], dict[str, Any]] = _nothing_more
    router: APIRouter = field(default_factory=APIRouter, init=False, compare=False)

    def __post_init__(self) -> None:
        async def page(visit: AdminGet) -> Response:
            return await self.show(visit)

        self.router.add_api_route(f"/{self.section}", page, methods=["GET"])

    async def show(
        self,
        visit: Visit,
        *,
        notice: str | None = None,
        error: str | None = None,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        """The page as it is now, with a notice or an error above the table."""
        listed = await self.listed(visit.db)
        shown = {self.rows: listed, **self.more(listed), **context}
        return render(
            visit.request,
            f"admin/{self.section}.html",
            visit.caller.page(
                title=self.title,
                nav="admin",
                section=self.section,
                **shown,
                notice=notice,
                error=error,
            ),
            status_code=status_code,
        )

    async def refused(self, visit: Visit, refusal: Refused) -> Response:
        return await self.show(visit, error=refusal.message, status_code=refusal.status_code)

    async def act(
        self, visit: Visit, action: Callable[[], Awaitable[T]], notice: Callable[[T], str]
    ) -> Response:
        """Run `action`, then show the page with `notice(result)`, or with the refusal."""
        try:
            done = await attempt(action())
        except Refused as refusal:
            return await self.refused(visit, refusal)
        return await self.show(visit, notice=notice(done))
