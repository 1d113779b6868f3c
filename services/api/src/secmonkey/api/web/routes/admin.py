"""Admin pages (role `admin`): accounts, the allowlist, subscriptions (with a test send), API keys.

Each action calls the REST route's own function, so the console validates and writes
exactly as `/api/v1` does (the last-admin-key guard, webhook URL checks, and so on).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Path, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from secmonkey.api.auth import KeyVerifier
from secmonkey.api.deps import Db, SettingsDep, get_verifier
from secmonkey.api.problems import Problem
from secmonkey.api.routes import accounts, allowlist, keys, subscriptions
from secmonkey.api.schemas.admin import (
    NAME_PATTERN,
    AccountFields,
    AccountIn,
    AllowlistIn,
    ChannelIn,
    KeyCreated,
    KeyIn,
    KeyUpdate,
    SubscriptionIn,
)
from secmonkey.api.web.deps import Admin, AdminForm, Caller
from secmonkey.api.web.rendering import render, root_of
from secmonkey.common.documents import SubscriptionFilters
from secmonkey.common.errors import Conflict, InvalidInput, NotFound
from secmonkey.common.messages import ACCOUNT_ID_PATTERN, GROUP_EVENT_TYPES, ISSUE_EVENT_TYPES
from secmonkey.common.webhooks import redact_url

router = APIRouter(prefix="/admin")
T = TypeVar("T")
AccountPath = Annotated[str, Path(pattern=ACCOUNT_ID_PATTERN)]
EntryName = Annotated[str, Path(pattern=NAME_PATTERN)]
SubscriptionPath = Annotated[str, Path(pattern=r"^[0-9A-Za-z_-]{1,64}$")]
KeyPath = Annotated[str, Path(pattern=r"^[0-9a-f]{1,64}$")]
VerifierDep = Annotated[KeyVerifier, Depends(get_verifier)]
EVENT_TYPES = list(GROUP_EVENT_TYPES + ISSUE_EVENT_TYPES)
_NAME = re.compile(NAME_PATTERN)


class Refused(Exception):
    """An admin action the API refused: shown on the page, with the API's status."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


def _validation_text(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()))
        reason = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {reason}" if where else reason)
    return "; ".join(parts)


async def _attempt(action: Awaitable[T]) -> T:
    try:
        return await action
    except (InvalidInput, ValidationError) as exc:
        text = _validation_text(exc) if isinstance(exc, ValidationError) else str(exc)
        raise Refused(text, 422) from None
    except NotFound as exc:
        raise Refused(str(exc), 404) from None
    except Conflict as exc:
        raise Refused(str(exc), 409) from None
    except Problem as exc:
        raise Refused(exc.detail, exc.status) from None


def _build(model: type[T], **fields: Any) -> T:
    try:
        return model(**fields)
    except ValidationError as exc:
        raise Refused(_validation_text(exc), 422) from None


def _split(text: str) -> list[str]:
    return [part for part in re.split(r"[\s,]+", text.strip()) if part]


@router.get("")
async def admin_home(request: Request, _: Admin) -> Response:
    return RedirectResponse(root_of(request) + "/admin/accounts", status_code=303)


# --- accounts -----------------------------------------------------------------------------


async def _accounts_page(
    request: Request,
    db: Db,
    caller: Caller,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "admin/accounts.html",
        caller.page(
            title="Accounts",
            nav="admin",
            section="accounts",
            accounts=await accounts.list_accounts(db, caller.principal),
            notice=notice,
            error=error,
        ),
        status_code=status_code,
    )


@router.get("/accounts")
async def accounts_page(request: Request, db: Db, caller: Admin) -> Response:
    return await _accounts_page(request, db, caller)


@router.post("/accounts")
async def add_account(
    request: Request,
    db: Db,
    caller: AdminForm,
    account_id: Annotated[str, Form(max_length=12)] = "",
    name: Annotated[str, Form(max_length=128)] = "",
    role_arn: Annotated[str, Form(max_length=600)] = "",
    external_id: Annotated[str, Form(max_length=1224)] = "",
    regions: Annotated[str, Form(max_length=2000)] = "",
    labels: Annotated[str, Form(max_length=2000)] = "",
    trusted: Annotated[bool, Form()] = False,
) -> Response:
    try:
        body = _build(
            AccountIn,
            id=account_id.strip(),
            name=name.strip(),
            role_arn=role_arn.strip() or None,
            external_id=external_id.strip() or None,
            regions=_split(regions) or None,
            labels=_split(labels),
            trusted=trusted,
        )
        created = await _attempt(accounts.create_account(db, caller.principal, body))
    except Refused as exc:
        return await _accounts_page(
            request, db, caller, error=exc.message, status_code=exc.status_code
        )
    return await _accounts_page(request, db, caller, notice=f"Added account {created.id}.")


@router.post("/accounts/{account_id}/toggle")
async def toggle_account(
    request: Request, db: Db, caller: AdminForm, account_id: AccountPath
) -> Response:
    try:
        current = await _attempt(accounts.get_account(db, caller.principal, account_id))
        fields = current.model_dump(exclude={"id"})
        fields["enabled"] = not current.enabled
        updated = await _attempt(
            accounts.update_account(db, caller.principal, account_id, AccountFields(**fields))
        )
    except Refused as exc:
        return await _accounts_page(
            request, db, caller, error=exc.message, status_code=exc.status_code
        )
    state = "enabled" if updated.enabled else "disabled"
    return await _accounts_page(request, db, caller, notice=f"Account {account_id} {state}.")


@router.post("/accounts/{account_id}/delete")
async def delete_account(
    request: Request, db: Db, caller: AdminForm, account_id: AccountPath
) -> Response:
    try:
        await _attempt(accounts.delete_account(db, caller.principal, account_id))
    except Refused as exc:
        return await _accounts_page(
            request, db, caller, error=exc.message, status_code=exc.status_code
        )
    return await _accounts_page(
        request, db, caller, notice=f"Removed account {account_id}; its history stays."
    )


# --- allowlist ----------------------------------------------------------------------------


async def _allowlist_page(
    request: Request,
    db: Db,
    caller: Caller,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "admin/allowlist.html",
        caller.page(
            title="Allowlist",
            nav="admin",
            section="allowlist",
            entries=await allowlist.list_entries(db, caller.principal),
            notice=notice,
            error=error,
        ),
        status_code=status_code,
    )


@router.get("/allowlist")
async def allowlist_page(request: Request, db: Db, caller: Admin) -> Response:
    return await _allowlist_page(request, db, caller)


@router.post("/allowlist")
async def add_entry(
    request: Request,
    db: Db,
    caller: AdminForm,
    name: Annotated[str, Form(max_length=128)] = "",
    cidr: Annotated[str, Form(max_length=64)] = "",
    description: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        if not _NAME.match(name.strip()):
            raise Refused(
                "name: letters, digits, spaces and . _ : @ + - (starting with a letter or digit)",
                422,
            )
        body = _build(AllowlistIn, cidr=cidr.strip(), description=description.strip())
        entry = await _attempt(allowlist.put_entry(db, caller.principal, name.strip(), body))
    except Refused as exc:
        return await _allowlist_page(
            request, db, caller, error=exc.message, status_code=exc.status_code
        )
    return await _allowlist_page(request, db, caller, notice=f"Saved {entry.name} ({entry.cidr}).")


@router.post("/allowlist/{name}/delete")
async def delete_entry(request: Request, db: Db, caller: AdminForm, name: EntryName) -> Response:
    try:
        await _attempt(allowlist.delete_entry(db, caller.principal, name))
    except Refused as exc:
        return await _allowlist_page(
            request, db, caller, error=exc.message, status_code=exc.status_code
        )
    return await _allowlist_page(request, db, caller, notice=f"Removed {name}.")


# --- subscriptions ------------------------------------------------------------------------


async def _subscriptions_page(
    request: Request,
    db: Db,
    caller: Caller,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    listed = await subscriptions.list_subscriptions(db, caller.principal)
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
        body = _build(
            SubscriptionIn,
            name=name.strip(),
            channel=_build(
                ChannelIn,
                type=channel,
                to=_split(to) if channel == "email" else [],
                url=url.strip() or None if channel != "email" else None,
                secret=secret or None if channel == "generic" else None,
            ),
            filters=_build(
                SubscriptionFilters,
                event_types=event_types or [],
                account_ids=_split(account_ids),
                min_severity=min_severity or None,
            ),
            mode=mode,
        )
        created = await _attempt(
            subscriptions.create_subscription(db, settings, caller.principal, body)
        )
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
        queued = await _attempt(
            subscriptions.test_subscription(db, caller.principal, subscription_id)
        )
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
        await _attempt(subscriptions.delete_subscription(db, caller.principal, subscription_id))
    except Refused as exc:
        return await _subscriptions_page(
            request, db, caller, error=exc.message, status_code=exc.status_code
        )
    return await _subscriptions_page(request, db, caller, notice="Subscription removed.")


# --- API keys -----------------------------------------------------------------------------


async def _keys_page(
    request: Request,
    db: Db,
    caller: Caller,
    notice: str | None = None,
    error: str | None = None,
    created: KeyCreated | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "admin/keys.html",
        caller.page(
            title="API keys",
            nav="admin",
            section="keys",
            keys=await keys.list_keys(db, caller.principal),
            created=created,
            notice=notice,
            error=error,
        ),
        status_code=status_code,
    )


@router.get("/keys")
async def keys_page(request: Request, db: Db, caller: Admin) -> Response:
    return await _keys_page(request, db, caller)


@router.post("/keys")
async def add_key(
    request: Request,
    db: Db,
    caller: AdminForm,
    name: Annotated[str, Form(max_length=128)] = "",
    role: Annotated[str, Form(max_length=16)] = "viewer",
) -> Response:
    try:
        body = _build(KeyIn, name=name.strip(), role=role)
        created = await _attempt(keys.new_key(db, caller.principal, body))
    except Refused as exc:
        return await _keys_page(request, db, caller, error=exc.message, status_code=exc.status_code)
    return await _keys_page(request, db, caller, created=created)


@router.post("/keys/{key_id}/toggle")
async def toggle_key(
    request: Request, db: Db, verifier: VerifierDep, caller: AdminForm, key_id: KeyPath
) -> Response:
    try:
        current = await _attempt(keys.get_key(db, caller.principal, key_id))
        updated = await _attempt(
            keys.update_key(
                db, verifier, caller.principal, key_id, KeyUpdate(enabled=not current.enabled)
            )
        )
    except Refused as exc:
        return await _keys_page(request, db, caller, error=exc.message, status_code=exc.status_code)
    state = "enabled" if updated.enabled else "disabled"
    return await _keys_page(request, db, caller, notice=f"Key {updated.name} {state}.")


@router.post("/keys/{key_id}/delete")
async def delete_key(
    request: Request, db: Db, verifier: VerifierDep, caller: AdminForm, key_id: KeyPath
) -> Response:
    try:
        await _attempt(keys.delete_key(db, verifier, caller.principal, key_id))
    except Refused as exc:
        return await _keys_page(request, db, caller, error=exc.message, status_code=exc.status_code)
    return await _keys_page(request, db, caller, notice="Key revoked.")
