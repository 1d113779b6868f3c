"""`Client` (sync) and `AsyncClient`: typed access to every API endpoint over httpx.

    with Client("http://127.0.0.1:8000", key="smk_…") as api:
        for match in api.search_ip("203.0.113.7").results:
            print(match.group_name, match.rule.text)

The URL and key default to `SECMONKEY_URL` and `SECMONKEY_API_KEY`. A refused or failed
request raises `ApiError` carrying the API's problem details.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterator
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

import httpx

from secmonkey.client import calls
from secmonkey.client.calls import Call
from secmonkey.client.errors import ApiError, ConnectionFailed

T = TypeVar("T")
P = ParamSpec("P")
DEFAULT_URL = "http://127.0.0.1:8000"
API_PREFIX = "/api/v1"


def _settings(url: str | None, key: str | None) -> tuple[str, str | None]:
    base = (url or os.environ.get("SECMONKEY_URL") or DEFAULT_URL).rstrip("/")
    return base, key or os.environ.get("SECMONKEY_API_KEY") or None


def _headers(key: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json, application/problem+json;q=0.9, */*;q=0.5"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    body: Any = None
    title, detail = response.reason_phrase or "Error", None
    try:
        body = response.json()
    except ValueError:
        detail = response.text[:500] or None
    if isinstance(body, dict):
        title = str(body.get("title") or title)
        detail = str(body["detail"]) if body.get("detail") else detail
    raise ApiError(response.status_code, title, detail, body)


def _request(call: Call[Any]) -> dict[str, Any]:
    request: dict[str, Any] = {"params": call.params}
    if call.json is not None:
        request["json"] = call.json
    return request


def _sync(builder: Callable[P, Call[T]]) -> Callable[Concatenate[Client, P], T]:
    def method(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.send(builder(*args, **kwargs))

    method.__doc__ = builder.__doc__
    method.__name__ = builder.__name__
    return method


def _async(builder: Callable[P, Call[T]]) -> Callable[Concatenate[AsyncClient, P], Awaitable[T]]:
    async def method(self: AsyncClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.send(builder(*args, **kwargs))

    method.__doc__ = builder.__doc__
    method.__name__ = builder.__name__
    return method


class Client:
    """Synchronous client of the secmonkey API."""

    def __init__(
        self,
        url: str | None = None,
        key: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url, self.key = _settings(url, key)
        self._http = httpx.Client(
            base_url=self.url + API_PREFIX,
            headers=_headers(self.key),
            timeout=timeout,
            transport=transport,
        )

    def send(self, call: Call[T]) -> T:
        try:
            response = self._http.request(call.method, call.path, **_request(call))
        except httpx.TransportError as exc:
            raise ConnectionFailed(self.url, str(exc) or exc.__class__.__name__) from exc
        _raise_for(response)
        return call.parse(response.status_code, response.content, response.text)

    def stream(self, call: Call[Any]) -> Iterator[bytes]:
        """The body of a text answer (an export) in chunks, as the server sends it."""
        try:
            with self._http.stream(call.method, call.path, **_request(call)) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for(response)
                yield from response.iter_bytes()
        except httpx.TransportError as exc:
            raise ConnectionFailed(self.url, str(exc) or exc.__class__.__name__) from exc

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    groups = _sync(calls.groups)
    resolve = _sync(calls.resolve)
    group = _sync(calls.group)
    usage = _sync(calls.usage)
    revisions = _sync(calls.revisions)
    revision = _sync(calls.revision)
    at = _sync(calls.at)
    diff = _sync(calls.diff)
    search_ip = _sync(calls.search_ip)
    search_cidr = _sync(calls.search_cidr)
    issues = _sync(calls.issues)
    issue = _sync(calls.issue)
    justify = _sync(calls.justify)
    unjustify = _sync(calls.unjustify)
    report = _sync(calls.report)
    exposure = _sync(calls.exposure)
    report_text = _sync(calls.report_text)
    compliance_frameworks = _sync(calls.compliance_frameworks)
    compliance = _sync(calls.compliance)
    export_ocsf = _sync(calls.export_ocsf)
    events = _sync(calls.events)
    audit_log = _sync(calls.audit_log)
    accounts = _sync(calls.accounts)
    account = _sync(calls.account)
    create_account = _sync(calls.create_account)
    update_account = _sync(calls.update_account)
    delete_account = _sync(calls.delete_account)
    subscriptions = _sync(calls.subscriptions)
    subscription = _sync(calls.subscription)
    create_subscription = _sync(calls.create_subscription)
    update_subscription = _sync(calls.update_subscription)
    delete_subscription = _sync(calls.delete_subscription)
    test_subscription = _sync(calls.test_subscription)
    allowlist = _sync(calls.allowlist)
    put_allowlist = _sync(calls.put_allowlist)
    delete_allowlist = _sync(calls.delete_allowlist)
    keys = _sync(calls.keys)
    scopes = _sync(calls.scopes)
    put_scope = _sync(calls.put_scope)
    delete_scope = _sync(calls.delete_scope)
    change_reviews = _sync(calls.change_reviews)
    change_review = _sync(calls.change_review)
    review_change = _sync(calls.review_change)
    review_changes = _sync(calls.review_changes)
    verify_chain = _sync(calls.verify_chain)
    export_chain = _sync(calls.export_chain)
    anchor_chain = _sync(calls.anchor_chain)
    latest_anchor = _sync(calls.latest_anchor)
    create_key = _sync(calls.create_key)
    update_key = _sync(calls.update_key)
    delete_key = _sync(calls.delete_key)
    sweep = _sync(calls.sweep)
    discover = _sync(calls.discover)
    discovery = _sync(calls.discovery)
    dead_letters = _sync(calls.dead_letters)
    dead_letter = _sync(calls.dead_letter)
    replay_dead_letters = _sync(calls.replay_dead_letters)
    purge_dead_letters = _sync(calls.purge_dead_letters)


class AsyncClient:
    """Asynchronous client of the secmonkey API (the same methods, awaited)."""

    def __init__(
        self,
        url: str | None = None,
        key: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url, self.key = _settings(url, key)
        self._http = httpx.AsyncClient(
            base_url=self.url + API_PREFIX,
            headers=_headers(self.key),
            timeout=timeout,
            transport=transport,
        )

    async def send(self, call: Call[T]) -> T:
        try:
            response = await self._http.request(call.method, call.path, **_request(call))
        except httpx.TransportError as exc:
            raise ConnectionFailed(self.url, str(exc) or exc.__class__.__name__) from exc
        _raise_for(response)
        return call.parse(response.status_code, response.content, response.text)

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    groups = _async(calls.groups)
    resolve = _async(calls.resolve)
    group = _async(calls.group)
    usage = _async(calls.usage)
    revisions = _async(calls.revisions)
    revision = _async(calls.revision)
    at = _async(calls.at)
    diff = _async(calls.diff)
    search_ip = _async(calls.search_ip)
    search_cidr = _async(calls.search_cidr)
    issues = _async(calls.issues)
    issue = _async(calls.issue)
    justify = _async(calls.justify)
    unjustify = _async(calls.unjustify)
    report = _async(calls.report)
    exposure = _async(calls.exposure)
    report_text = _async(calls.report_text)
    compliance_frameworks = _async(calls.compliance_frameworks)
    compliance = _async(calls.compliance)
    export_ocsf = _async(calls.export_ocsf)
    events = _async(calls.events)
    audit_log = _async(calls.audit_log)
    accounts = _async(calls.accounts)
    account = _async(calls.account)
    create_account = _async(calls.create_account)
    update_account = _async(calls.update_account)
    delete_account = _async(calls.delete_account)
    subscriptions = _async(calls.subscriptions)
    subscription = _async(calls.subscription)
    create_subscription = _async(calls.create_subscription)
    update_subscription = _async(calls.update_subscription)
    delete_subscription = _async(calls.delete_subscription)
    test_subscription = _async(calls.test_subscription)
    allowlist = _async(calls.allowlist)
    put_allowlist = _async(calls.put_allowlist)
    delete_allowlist = _async(calls.delete_allowlist)
    keys = _async(calls.keys)
    scopes = _async(calls.scopes)
    put_scope = _async(calls.put_scope)
    delete_scope = _async(calls.delete_scope)
    change_reviews = _async(calls.change_reviews)
    change_review = _async(calls.change_review)
    review_change = _async(calls.review_change)
    review_changes = _async(calls.review_changes)
    verify_chain = _async(calls.verify_chain)
    export_chain = _async(calls.export_chain)
    anchor_chain = _async(calls.anchor_chain)
    latest_anchor = _async(calls.latest_anchor)
    create_key = _async(calls.create_key)
    update_key = _async(calls.update_key)
    delete_key = _async(calls.delete_key)
    sweep = _async(calls.sweep)
    discover = _async(calls.discover)
    discovery = _async(calls.discovery)
    dead_letters = _async(calls.dead_letters)
    dead_letter = _async(calls.dead_letter)
    replay_dead_letters = _async(calls.replay_dead_letters)
    purge_dead_letters = _async(calls.purge_dead_letters)
