"""Admin · subscriptions: list, add, send a test through the notifier, remove."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Path, Response

from secmonkey.api.audit import actions
from secmonkey.api.deps import SettingsDep
from secmonkey.api.queries import subscriptions
from secmonkey.api.schemas.admin import (
    SUBSCRIPTION_ID_PATTERN,
    ChannelIn,
    SubscriptionIn,
    SubscriptionView,
)
from secmonkey.api.web.rendering import render
from secmonkey.api.web.routes.admin._page import (
    AdminPage,
    AdminPost,
    Refused,
    attempt,
    build,
    split,
)
from secmonkey.common.documents import SubscriptionFilters
from secmonkey.common.messages import (
    GROUP_EVENT_TYPES,
    ISSUE_EVENT_TYPES,
    SYSTEM_EVENT_TYPES,
)
from secmonkey.common.webhooks import redact_url

SubscriptionPath = Annotated[str, Path(pattern=SUBSCRIPTION_ID_PATTERN)]
EVENT_TYPES = list(GROUP_EVENT_TYPES + ISSUE_EVENT_TYPES + SYSTEM_EVENT_TYPES)


def _targets(listed: list[SubscriptionView]) -> dict[str, Any]:
    """Where each subscription sends (a webhook URL redacted), and the event types to tick."""
    return {
        "targets": {
            s.id: ", ".join(s.channel.to)
            if s.channel.type == "email"
            else redact_url(s.channel.url or "")
            for s in listed
        },
        "event_types": EVENT_TYPES,
    }


PAGE = AdminPage(
    "subscriptions",
    "Subscriptions",
    rows="subscriptions",
    listed=subscriptions.list_subscriptions,
    more=_targets,
)


@PAGE.router.post("/subscriptions")
async def add_subscription(
    visit: AdminPost,
    settings: SettingsDep,
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
    async def add() -> SubscriptionView:
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
        return await actions.create_subscription(visit.trail, settings, body)

    return await PAGE.act(visit, add, lambda s: f"Added {s.name}.")


@PAGE.router.post("/subscriptions/{subscription_id}/test")
async def test_subscription(visit: AdminPost, subscription_id: SubscriptionPath) -> Response:
    """htmx shows the outcome beside the button; a plain form post, on the page."""
    htmx = visit.request.headers.get("HX-Request") == "true"
    try:
        queued = await attempt(actions.test_subscription(visit.trail, subscription_id))
    except Refused as refusal:
        if not htmx:
            return await PAGE.refused(visit, refusal)
        return render(
            visit.request, "admin/_test_sent.html", {"error": refusal.message, "queued": None}
        )
    if htmx:
        return render(visit.request, "admin/_test_sent.html", {"queued": queued, "error": None})
    return await PAGE.show(visit, notice=f"Test queued (event {queued.event_id}): {queued.detail}.")


@PAGE.router.post("/subscriptions/{subscription_id}/delete")
async def delete_subscription(visit: AdminPost, subscription_id: SubscriptionPath) -> Response:
    return await PAGE.act(
        visit,
        lambda: actions.delete_subscription(visit.trail, subscription_id),
        lambda _: "Subscription removed.",
    )
