"""Admin · subscriptions: list, add, send a test through the notifier, remove."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request, Response

from secmonkey.api.deps import Db, SettingsDep
from secmonkey.api.queries import subscriptions
from secmonkey.api.schemas.admin import SUBSCRIPTION_ID_PATTERN, ChannelIn, SubscriptionIn
from secmonkey.api.web.deps import Admin, AdminForm, Caller
from secmonkey.api.web.rendering import render
from secmonkey.api.web.routes.admin._refused import Refused, attempt, build, split
from secmonkey.common.documents import SubscriptionFilters
from secmonkey.common.messages import GROUP_EVENT_TYPES, ISSUE_EVENT_TYPES
from secmonkey.common.webhooks import redact_url

router = APIRouter()
SubscriptionPath = Annotated[str, Path(pattern=SUBSCRIPTION_ID_PATTERN)]
EVENT_TYPES = list(GROUP_EVENT_TYPES + ISSUE_EVENT_TYPES)


async def _subscriptions_page(
    request: Request,
    db: Db,
    caller: Caller,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    listed = await subscriptions.list_subscriptions(db)
    return render(
        request,
        "admin/subscriptions.html",
        caller.page(
            title="Subscriptions",
            nav="admin",
            section="subscriptions",
            subscriptions=listed,
            targets={
                s.id: ", ".join(s.channel.to)
                if s.channel.type == "email"
                else redact_url(s.channel.url or "")
                for s in listed
            },
            event_types=EVENT_TYPES,
            notice=notice,
            error=error,
        ),
        status_code=status_code,
    )


@router.get("/subscriptions")
async def subscriptions_page(request: Request, db: Db, caller: Admin) -> Response:
    return await _subscriptions_page(request, db, caller)


@router.post("/subscriptions")
async def add_subscription(
    request: Request,
    db: Db,
    settings: SettingsDep,
    caller: AdminForm,
    name: Annotated[str, Form(max_length=200)] = "",
    channel: Annotated[str, Form(max_length=16)] = "email",
    to: Annotated[str, Form(max_length=4000)] = "",
    url: Annotated[str, Form(max_length=2048)] = "",
    secret: Annotated[str, Form(max_length=512)] = "",
    event_types: Annotated[list[str] | None, Form()] = None,
    account_ids: Annotated[str, Form(max_length=4000)] = "",
    min_severity: Annotated[str, Form(max_length=16)] = "",
    mode: Annotated[str, Form(max_length=16)] = "immediate",
) -> Response:
    try:
        body = build(
            SubscriptionIn,
            name=name.strip(),
            channel=build(
                ChannelIn,
                type=channel,
                to=split(to) if channel == "email" else [],
                url=url.strip() or None if channel != "email" else None,
                secret=secret or None if channel == "generic" else None,
            ),
            filters=build(
                SubscriptionFilters,
                event_types=event_types or [],
                account_ids=split(account_ids),
                min_severity=min_severity or None,
            ),
            mode=mode,
        )
        created = await attempt(subscriptions.create_subscription(db, settings, body))
    except Refused as exc:
        return await _subscriptions_page(
            request, db, caller, error=exc.message, status_code=exc.status_code
        )
    return await _subscriptions_page(request, db, caller, notice=f"Added {created.name}.")


@router.post("/subscriptions/{subscription_id}/test")
async def test_subscription(
    request: Request, db: Db, caller: AdminForm, subscription_id: SubscriptionPath
) -> Response:
    try:
        queued = await attempt(subscriptions.send_test(db, subscription_id))
    except Refused as exc:
        if request.headers.get("HX-Request") == "true":
            return render(
                request,
                "admin/_test_sent.html",
                {"error": exc.message, "queued": None},
                status_code=200,
            )
        return await _subscriptions_page(
            request, db, caller, error=exc.message, status_code=exc.status_code
        )
    if request.headers.get("HX-Request") == "true":
        return render(request, "admin/_test_sent.html", {"queued": queued, "error": None})
    return await _subscriptions_page(
        request, db, caller, notice=f"Test queued (event {queued.event_id}): {queued.detail}."
    )


@router.post("/subscriptions/{subscription_id}/delete")
async def delete_subscription(
    request: Request, db: Db, caller: AdminForm, subscription_id: SubscriptionPath
) -> Response:
    try:
        await attempt(subscriptions.delete_subscription(db, subscription_id))
    except Refused as exc:
        return await _subscriptions_page(
            request, db, caller, error=exc.message, status_code=exc.status_code
        )
    return await _subscriptions_page(request, db, caller, notice="Subscription removed.")
