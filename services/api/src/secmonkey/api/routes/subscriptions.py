"""`/subscriptions`: who hears of which events, and how (admin only: targets are secrets)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from secmonkey.api.audit import actions
from secmonkey.api.audit.deps import AdminTrail
from secmonkey.api.deps import Admin, Db, SettingsDep
from secmonkey.api.problems import problem_responses
from secmonkey.api.queries import subscriptions
from secmonkey.api.schemas.admin import (
    SUBSCRIPTION_ID_PATTERN,
    SubscriptionIn,
    SubscriptionTestQueued,
    SubscriptionView,
)

router = APIRouter(
    prefix="/subscriptions", tags=["subscriptions"], responses=problem_responses(401, 403, 422)
)
SubscriptionId = Annotated[str, Path(pattern=SUBSCRIPTION_ID_PATTERN)]


@router.get("", response_model=list[SubscriptionView], summary="List subscriptions")
async def list_subscriptions(db: Db, _: Admin) -> list[SubscriptionView]:
    return await subscriptions.list_subscriptions(db)


@router.post("", response_model=SubscriptionView, status_code=201, summary="Add a subscription")
async def create_subscription(
    trail: AdminTrail, settings: SettingsDep, body: SubscriptionIn
) -> SubscriptionView:
    return await actions.create_subscription(trail, settings, body)


@router.get(
    "/{subscription_id}",
    response_model=SubscriptionView,
    summary="One subscription",
    responses=problem_responses(404),
)
async def get_subscription(db: Db, _: Admin, subscription_id: SubscriptionId) -> SubscriptionView:
    return await subscriptions.get_subscription(db, subscription_id)


@router.put(
    "/{subscription_id}",
    response_model=SubscriptionView,
    summary="Replace a subscription (an omitted secret is kept)",
    responses=problem_responses(404),
)
async def update_subscription(
    trail: AdminTrail, settings: SettingsDep, subscription_id: SubscriptionId, body: SubscriptionIn
) -> SubscriptionView:
    return await actions.update_subscription(trail, settings, subscription_id, body)


@router.delete(
    "/{subscription_id}",
    status_code=204,
    summary="Remove a subscription",
    responses=problem_responses(404),
)
async def delete_subscription(trail: AdminTrail, subscription_id: SubscriptionId) -> Response:
    await actions.delete_subscription(trail, subscription_id)
    return Response(status_code=204)


@router.post(
    "/{subscription_id}/test",
    response_model=SubscriptionTestQueued,
    status_code=202,
    summary="Send a test notification to this subscription only",
    responses=problem_responses(404),
)
async def test_subscription(
    trail: AdminTrail, subscription_id: SubscriptionId
) -> SubscriptionTestQueued:
    return await actions.test_subscription(trail, subscription_id)
