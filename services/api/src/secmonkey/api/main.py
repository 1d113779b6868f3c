"""Every resource router of the REST API, gathered under `/api/v1`."""

from __future__ import annotations

from fastapi import APIRouter

from secmonkey.api.routes import (
    accounts,
    allowlist,
    audit_log,
    chain,
    change_reviews,
    compliance,
    dead_letters,
    discovery,
    events,
    evidence,
    export,
    exposure,
    groups,
    issues,
    keys,
    report,
    scopes,
    search,
    subscriptions,
    sweeps,
    usage,
)

API_PREFIX = "/api/v1"

api_router = APIRouter(prefix=API_PREFIX)
for module in (
    groups,
    usage,
    search,
    issues,
    report,
    compliance,
    export,
    events,
    discovery,  # before accounts: /accounts/discover is not an account ID
    accounts,
    subscriptions,
    allowlist,
    keys,
    sweeps,
    dead_letters,
    audit_log,
    exposure,
    scopes,
    change_reviews,
    chain,
    evidence,
):
    api_router.include_router(module.router)
