"""`/healthz`, `/readyz` and `/metrics`, mounted by every service."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from secmonkey.common.runtime import Runtime


def health_router(
    runtime: Callable[[], Runtime | None], registry: CollectorRegistry = REGISTRY
) -> APIRouter:
    """Liveness (the process answers), readiness (MongoDB and RabbitMQ answer; 200 with
    `degraded` when only an optional dependency is down), metrics."""
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
        # `degraded`: a dependency the service can work without (the API without RabbitMQ)
        # is down; the service still serves, so it stays ready.
        ready = all(v == "ok" or v.startswith("degraded") for v in checks.values())
        degraded = ready and any(v != "ok" for v in checks.values())
        status = "degraded" if degraded else "ok" if ready else "unavailable"
        return JSONResponse({"status": status, "checks": checks}, status_code=200 if ready else 503)

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router


def ops_app(
    runtime: Callable[[], Runtime | None], registry: CollectorRegistry = REGISTRY
) -> FastAPI:
    """Probes and metrics as an application of their own, served on the metrics port: a
    NetworkPolicy that opens metrics to Prometheus then opens nothing else."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(health_router(runtime, registry))
    return app
