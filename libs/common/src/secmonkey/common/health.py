"""`/healthz`, `/readyz` and `/metrics`, mounted by every service."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from secmonkey.common.runtime import Runtime


def health_router(
    runtime: Callable[[], Runtime | None], registry: CollectorRegistry = REGISTRY
) -> APIRouter:
    """Liveness (the process answers), readiness (MongoDB and RabbitMQ answer), metrics."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        current = runtime()
        if current is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        checks = await current.readiness()
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
