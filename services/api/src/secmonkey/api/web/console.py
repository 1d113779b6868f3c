"""The console as a sub-application of the API, mounted at `/console`.

A separate FastAPI application keeps its pages out of the API's OpenAPI schema and lets
its errors be pages rather than problem documents; it shares the API's `state`, so the
same database, key verifier and settings serve both.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from secmonkey.api.problems import Problem
from secmonkey.api.web.deps import ConsoleForbidden, SignInRequired
from secmonkey.api.web.rendering import HERE, query, render
from secmonkey.api.web.routes import (
    admin,
    compliance,
    dashboard,
    evidence,
    groups,
    issues,
    reviews,
    search,
    signin,
    sso,
)
from secmonkey.api.web.session import make_signer
from secmonkey.api.web.settings import ConsoleSettings
from secmonkey.common.errors import Conflict, InvalidInput, NotFound

log = logging.getLogger(__name__)

CONSOLE_PATH = "/console"
# Everything the console loads is its own: no CDN, no inline script, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def mount(app: FastAPI, settings: ConsoleSettings) -> None:
    """Serve the console at `/console` (and send `/` there)."""
    console = create_console(settings)
    console.state = app.state
    app.state.console_signer = make_signer(settings)
    app.mount(CONSOLE_PATH, console, name="console")

    async def home() -> RedirectResponse:
        return RedirectResponse(f"{CONSOLE_PATH}/", status_code=307)

    app.add_api_route("/", home, include_in_schema=False)


def create_console(settings: ConsoleSettings) -> FastAPI:
    console = FastAPI(title="secmonkey console", openapi_url=None, docs_url=None, redoc_url=None)
    for module in (
        signin,
        sso,
        dashboard,
        groups,
        search,
        issues,
        reviews,
        evidence,
        compliance,
        admin,
    ):
        console.include_router(module.router)
    console.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    console.middleware("http")(_security_headers)
    console.add_exception_handler(SignInRequired, _sign_in)
    console.add_exception_handler(ConsoleForbidden, _forbidden)
    console.add_exception_handler(RequestValidationError, _invalid_request)
    console.add_exception_handler(InvalidInput, _error(422, "That request cannot be answered"))
    console.add_exception_handler(NotFound, _error(404, "Not found"))
    console.add_exception_handler(Conflict, _error(409, "Conflict"))
    console.add_exception_handler(Problem, _problem)
    console.add_exception_handler(StarletteHTTPException, _http)
    return console


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    # decided before routing: a mount below rewrites the scope's root_path in place
    static = request.url.path.startswith(f"{request.scope.get('root_path', '')}/static/")
    try:
        response = await call_next(request)
    except Exception:  # a bug: a page saying so, not the API's problem document
        log.exception("console error on %s %s", request.method, request.url.path)
        response = _error_page(
            request, 500, "Something went wrong", "An internal error; the server log has details."
        )
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if not static:
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    return render(
        request,
        "error.html",
        {"title": title, "message": message, "status": status},
        status_code=status,
    )


async def _sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    target = f"{request.scope.get('root_path', '')}/login{query(next=exc.next_url)}"
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsoleForbidden)
    return _error_page(request, exc.status_code, "Not allowed", exc.message)


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    reasons = []
    for error in exc.errors():
        where = str(error.get("loc", ("", ""))[-1])
        reason = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        reasons.append(f"{where}: {reason}")
    return _error_page(request, 422, "Check the filters", "; ".join(reasons) or "invalid request")


def _error(status: int, title: str) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handler(request: Request, exc: Exception) -> Response:
        return _error_page(request, status, title, str(exc))

    return handler


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return _error_page(request, exc.status, "That did not work", exc.detail)


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    title = "Not found" if exc.status_code == 404 else "That did not work"
    return _error_page(request, exc.status_code, title, str(exc.detail))
