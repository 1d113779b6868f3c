"""Prometheus metrics of the API: request counts and latencies per route template, and
the depth of each consumer queue's dead-letter queue."""

from __future__ import annotations

import time

from fastapi import Request
from prometheus_client import Gauge, Histogram
from starlette.types import Message, Receive, Scope, Send

from secmonkey.api.asgi import HttpMiddleware

REQUEST_SECONDS = Histogram(
    "secmonkey_api_request_seconds",
    "API request duration by route template, method and status",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

# Labelled only with the configured consumer queues (`Settings.consumer_queues`).
DEAD_LETTERS = Gauge(
    "secmonkey_dead_letters",
    "Messages waiting in each consumer queue's dead-letter queue",
    ["queue"],
)


# Label values come from known sets only: any other method (h11 accepts any token) is OTHER.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    return method if method in METHODS else "OTHER"


def route_template(request: Request) -> str:
    """`/api/v1/groups/{group_id}` for `/api/v1/groups/sg-1`: bounded label values.

    Routes of included routers know only their own part of the path, so the prefix is
    what precedes that part, filled in, in the request's path.
    """
    route = request.scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(template, str):
        return "unmatched"
    path = str(request.scope.get("path", ""))
    try:
        concrete = str(template.format(**request.scope.get("path_params", {})))
    except (KeyError, IndexError, ValueError):
        return template
    if path.endswith(concrete):
        # The prefix is what the enclosing routers and mounts matched: their fixed paths.
        return path[: len(path) - len(concrete)] + template
    return template


class Measured(HttpMiddleware):
    """ASGI middleware: time every request until its response is sent, labelled by its
    route template (not its raw path)."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500

        async def noted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, noted)
        finally:
            # The routers have filled `scope` in (route, path parameters) by now.
            request = Request(scope)
            REQUEST_SECONDS.labels(
                method_label(request.method), route_template(request), str(status)
            ).observe(time.perf_counter() - started)
