"""One botocore client per region and service, shared by every monitored account.

A botocore client costs about 5 ms of CPU to make and 110-175 KB to keep (mostly its own
copy of the session's event handlers). One per account-region-service meant 11,900
clients at 100 accounts x 17 regions x 7 services: a minute of CPU in each cold sweep,
and 2.3 GB held. Nothing in a client belongs to an account except the credentials it
signs with, so the collector keeps one client per region and service and signs each call
with the credentials of the account it acts for.

`AccountClient` is what `AwsClients.client` returns: it looks like a boto3 client (the
operations, `get_paginator`, `exceptions`, `meta`) and, around each operation, records on
its thread which account is acting and with which credentials. The shared client's
`before-sign` hook (`sign_as_acting`) hands those credentials to botocore's signer for
every attempt of that call; a call on a shared client that no `AccountClient` made is
refused rather than signed with anything else. The thread-local also tells the pacer
(`secmonkey.collector.pacing`) whose account-region-service bucket a call draws from.

What the accounts of a region-service now share: the connection pool (one endpoint) and
botocore's standard-mode retry quota, which caps retries when many calls of the
region-service fail at once (a regional outage), across accounts instead of per account.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from botocore.credentials import Credentials


class _Acting(threading.local):
    account: str | None = None
    credentials: Credentials | None = None


_acting = _Acting()


class NotActing(RuntimeError):
    """A shared client was called outside an `AccountClient`: no account to sign as."""


def acting_account() -> str | None:
    """The account whose call this thread is making, if any."""
    return _acting.account


def sign_as_acting(request: Any = None, **_: Any) -> None:
    """botocore `before-sign` hook of a shared client: sign with the acting account's
    credentials (each attempt of a call is signed on the thread that made it)."""
    credentials = _acting.credentials
    if credentials is None:
        raise NotActing("a shared AWS client was called without an account acting")
    request.context.setdefault("signing", {})["request_credentials"] = credentials


class AccountClient:
    """The shared client of a region and service, acting for one account."""

    __slots__ = ("_client", "_account", "_credentials", "_operations")

    def __init__(self, client: Any, account: str, credentials: Credentials) -> None:
        self._client = client
        self._account = account
        self._credentials = credentials
        self._operations = client.meta.method_to_api_mapping

    @property
    def access_key_id(self) -> str:
        return str(self._credentials.access_key)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name in self._operations:
            return functools.partial(self._act, attr)
        return attr

    def _act(self, operation: Any, *args: Any, **kwargs: Any) -> Any:
        before = _acting.account, _acting.credentials
        _acting.account, _acting.credentials = self._account, self._credentials
        try:
            return operation(*args, **kwargs)
        finally:
            _acting.account, _acting.credentials = before

    def get_paginator(self, operation_name: str) -> Any:
        """botocore's paginator, whose pages are fetched through this account's calls."""
        return type(self._client).get_paginator(self, operation_name)

    def can_paginate(self, operation_name: str) -> bool:
        return bool(self._client.can_paginate(operation_name))
