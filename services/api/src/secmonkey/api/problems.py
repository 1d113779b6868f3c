"""RFC 9457 problem details for every error the API returns.

Every error, whether raised by a route (`Problem`), by validation (FastAPI's
`RequestValidationError`), by the shared exception hierarchy or by a bug, leaves as
`application/problem+json` with `type`, `title`, `status` and a `detail` that says what
was wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from secmonkey.common.errors import Conflict, InvalidInput, NotFound, TransientError
from secmonkey.common.storage import is_transient

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://secmonkey.dev/problems/"


class InvalidParam(BaseModel):
    name: str = Field(description="where the bad value was: e.g. `query.cidr`, `body.until`")
    reason: str


class ProblemDetail(BaseModel):
    """An RFC 9457 problem document."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    invalid_params: list[InvalidParam] | None = Field(
        default=None, alias="invalid-params", serialization_alias="invalid-params"
    )


class Problem(Exception):
    """Raise from a route: becomes a problem+json response with this status."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.headers = headers
        self.extra = extra or {}


def problem_response(
    status: int,
    detail: str | None,
    request: Request | None = None,
    *,
    kind: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body: dict[str, Any] = {
        "type": f"{TYPE_BASE}{kind}" if kind else "about:blank",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if request is not None:
        body["instance"] = request.url.path
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


def _validation_reason(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    # pydantic prefixes errors raised by validators with "Value error, "
    return message.removeprefix("Value error, ")


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(
        exc.status, exc.detail, request, kind=exc.kind, headers=exc.headers, extra=exc.extra
    )


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # FastAPI's "error parsing the body": bad input like any other
        detail = f"the request body could not be read as JSON ({exc.detail})"
        return problem_response(422, detail, request, kind="invalid-input")
    return problem_response(
        exc.status_code, str(exc.detail) if exc.detail else None, request, headers=exc.headers
    )


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    params = [
        {"name": _location(e.get("loc", ())), "reason": _validation_reason(e)} for e in exc.errors()
    ]
    detail = "; ".join(f"{p['name']}: {p['reason']}" for p in params) or "invalid request"
    return problem_response(
        422, detail, request, kind="invalid-input", extra={"invalid-params": params}
    )


async def _on_invalid_input(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(422, str(exc), request, kind="invalid-input")


async def _on_not_found(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(404, str(exc), request, kind="not-found")


async def _on_conflict(request: Request, exc: Exception) -> JSONResponse:
    return problem_response(409, str(exc), request, kind="conflict")


RETRY_AFTER_SECONDS = 5


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, TransientError) or is_transient(exc):
        # A dependency the request needs (the database) is unavailable: say when to retry.
        log.warning("unavailable on %s %s: %s", request.method, request.url.path, exc)
        return problem_response(
            503,
            f"a dependency is unavailable ({exc.__class__.__name__}); try again shortly",
            request,
            kind="unavailable",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "internal error; the server log has the details", request)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem details."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(InvalidInput, _on_invalid_input)
    app.add_exception_handler(NotFound, _on_not_found)
    app.add_exception_handler(Conflict, _on_conflict)
    app.add_exception_handler(Exception, _on_unexpected)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting the problem documents a route can return."""
    return {
        status: {
            "model": ProblemDetail,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}},
        }
        for status in statuses
    }
