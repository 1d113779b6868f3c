"""AWS clients for the hub and, through STS AssumeRole with an ExternalId, for each account.

The hub's own credentials come from boto3's normal chain (environment, profile, instance
or pod role). Each monitored account's temporary credentials are cached and assumed again
`credentials_refresh_margin_seconds` before they expire, so a long sweep never runs on
credentials about to lapse. Everything here is called from worker threads: boto3 clients
are thread-safe, sessions are not, so clients are created one at a time (`_create`) and
reused; a thread that finds its client made never waits behind another's creation.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from secmonkey.collector.client_classes import share_client_classes
from secmonkey.collector.pacing import PaceConfig, Pacer
from secmonkey.collector.settings import Settings
from secmonkey.common.dates import aware
from secmonkey.common.documents import Account

log = logging.getLogger(__name__)


class AwsError(Exception):
    """An AWS call failed for good (after botocore's retries): `code` names the failure."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def aws_error(exc: Exception, context: str = "") -> AwsError:
    """The code and text of any exception an AWS call raised, for status and metrics."""
    prefix = f"{context}: " if context else ""
    if isinstance(exc, AwsError):
        return AwsError(exc.code, prefix + exc.message)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "ClientError")
        text = str(error.get("Message") or exc)
        operation = "" if context else f"{exc.operation_name} failed: "
        return AwsError(code, f"{prefix}{operation}{text}")
    if isinstance(exc, BotoCoreError):
        return AwsError(type(exc).__name__, f"{prefix}{exc}")
    return AwsError(type(exc).__name__, f"{prefix}{exc}")


@dataclass(frozen=True)
class TemporaryCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime


class AwsClients:
    """Creates and caches boto3 clients, assuming each account's role when needed."""

    def __init__(self, settings: Settings, session: boto3.session.Session | None = None) -> None:
        self.settings = settings
        share_client_classes()  # a client per account-region-service, one class per service
        self._session = session or boto3.session.Session()
        self._lock = threading.Lock()
        self._create = threading.Lock()  # the session makes one client at a time
        self._assume_locks: dict[str, threading.Lock] = {}
        self._credentials: dict[str, TemporaryCredentials] = {}
        # (account or "hub", service, region) -> (access key ID it was made with, client):
        # one entry per account-region-service, replaced when the credentials change.
        self._clients: dict[tuple[str, str, str], tuple[str, Any]] = {}
        self._hub_account: str | None = None
        self.pacer = Pacer(PaceConfig(rate=settings.aws_pace_rate, burst=settings.aws_pace_burst))
        self.config = Config(
            # standard retries back off on throttling; the pacer (not botocore's adaptive
            # mode, one limiter per client) adapts the rate per account-region-service.
            retries={"mode": "standard", "max_attempts": settings.aws_max_attempts},
            connect_timeout=settings.aws_connect_timeout,
            read_timeout=settings.aws_read_timeout,
            max_pool_connections=max(10, settings.sweep_concurrency),
            user_agent_extra="secmonkey-collector",
        )

    @property
    def events(self) -> Any:
        """The session's botocore event system (hooks see every call of clients made after)."""
        return self._session.events

    def _new_client(
        self, owner: str, service: str, region: str, creds: TemporaryCredentials | None
    ) -> Any:
        keys: dict[str, str] = {}
        if creds is not None:
            keys = {
                "aws_access_key_id": creds.access_key_id,
                "aws_secret_access_key": creds.secret_access_key,
                "aws_session_token": creds.session_token,
            }
        client = self._session.client(
            service,
            region_name=region,
            endpoint_url=self.settings.aws_endpoint_url,
            config=self.config,
            **keys,
        )
        if self.settings.aws_pace_rate > 0 and creds is not None:
            # The monitored accounts' quotas are the customer's; the hub's own calls
            # (AssumeRole for every account) are not held to their ceiling.
            self.pacer.attach(client, owner, region, service)
        return client

    def hub_client(self, service: str, region: str | None = None) -> Any:
        """A client with the hub's own credentials."""
        region = region or self.settings.aws_region
        return self._cached(("hub", service, region), "", None)

    def _cached(
        self, key: tuple[str, str, str], access_key: str, creds: TemporaryCredentials | None
    ) -> Any:
        """The client of `key` (owner, service, region) made with `access_key`, made once.
        The lookup takes no lock (a dict read is atomic in CPython) and is never a scan, so
        its cost does not grow with the estate; a creation replaces the
        account-region-service's client of older credentials."""
        cached = self._clients.get(key)
        if cached is not None and cached[0] == access_key:
            return cached[1]
        with self._create:
            cached = self._clients.get(key)
            if cached is None or cached[0] != access_key:
                cached = (access_key, self._new_client(key[0], key[1], key[2], creds))
                with self._lock:
                    self._clients[key] = cached
            return cached[1]

    def hub_account_id(self) -> str:
        if self._hub_account is None:
            identity = self.hub_client("sts").get_caller_identity()
            self._hub_account = str(identity["Account"])
        return self._hub_account

    def credentials(self, account: Account) -> TemporaryCredentials | None:
        """The account's temporary credentials (None: the hub's own, for the hub's account)."""
        if account.role_arn is None:
            try:
                hub = self.hub_account_id()
            except Exception as exc:
                raise aws_error(exc, "GetCallerIdentity") from exc
            if hub != account.id:
                raise AwsError(
                    "NoRoleConfigured",
                    f"account {account.id} has no role_arn and the collector's own credentials "
                    f"belong to account {hub}",
                )
            return None
        with self._lock:
            lock = self._assume_locks.setdefault(account.id, threading.Lock())
        with lock:
            cached = self._credentials.get(account.id)
            margin = timedelta(seconds=self.settings.credentials_refresh_margin_seconds)
            if cached is not None and cached.expiration - margin > datetime.now(UTC):
                return cached
            creds = self._assume(account)
            self._credentials[account.id] = creds
            return creds

    def _assume(self, account: Account) -> TemporaryCredentials:
        assert account.role_arn is not None
        params: dict[str, Any] = {
            "RoleArn": account.role_arn,
            "RoleSessionName": self.settings.role_session_name,
            "DurationSeconds": self.settings.assume_role_seconds,
        }
        if account.external_id:
            params["ExternalId"] = account.external_id
        try:
            answer = self.hub_client("sts").assume_role(**params)["Credentials"]
        except Exception as exc:
            raise aws_error(exc, f"AssumeRole {account.role_arn}") from exc
        expiration = aware(answer["Expiration"])
        log.info(
            "assumed %s until %s",
            account.role_arn,
            expiration.isoformat(),
            extra={"account_id": account.id},
        )
        return TemporaryCredentials(
            answer["AccessKeyId"], answer["SecretAccessKey"], answer["SessionToken"], expiration
        )

    def client(self, account: Account, service: str, region: str) -> Any:
        """A client acting in `account`, reused while its credentials stay the same."""
        creds = self.credentials(account)
        if creds is None:
            return self.hub_client(service, region)
        return self._cached((account.id, service, region), creds.access_key_id, creds)

    def forget(self, account_id: str) -> None:
        """Drop cached credentials and clients of an account (after it was refused, say)."""
        with self._lock:
            self._credentials.pop(account_id, None)
            for key in [k for k in self._clients if k[0] == account_id]:
                del self._clients[key]
