"""AWS clients for the hub and, through STS AssumeRole with an ExternalId, for each account.

The hub's own credentials come from boto3's normal chain (environment, profile, instance
or pod role). Each monitored account's temporary credentials are cached and assumed again
`credentials_refresh_margin_seconds` before they expire, so a long sweep never runs on
credentials about to lapse. The monitored accounts share one client per region and
service, each call signed as its account (`secmonkey.collector.acting`). Everything here
is called from worker threads: boto3 clients are thread-safe, sessions are not, so
clients are created one at a time (`_create`) and reused; a thread that finds its client
made never waits behind another's creation.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError

from secmonkey.collector.acting import AccountClient, acting_account, sign_as_acting
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
        # ("hub", service, region) -> the hub's own client; ("shared", service, region) ->
        # the client every account signs its calls of that region-service with.
        self._clients: dict[tuple[str, str, str], Any] = {}
        # (account, service, region) -> the account's view of the shared client, replaced
        # when the account's credentials change.
        self._acting: dict[tuple[str, str, str], AccountClient] = {}
        self._hub_account: str | None = None
        self.pacer = Pacer(PaceConfig(rate=settings.aws_pace_rate, burst=settings.aws_pace_burst))
        self.config = Config(
            # standard retries back off on throttling; the pacer (not botocore's adaptive
            # mode, one limiter per client) adapts the rate per account-region-service.
            retries={"mode": "standard", "max_attempts": settings.aws_max_attempts},
            connect_timeout=settings.aws_connect_timeout,
            read_timeout=settings.aws_read_timeout,
            # a region-service's client serves every account-region read at once, each
            # with up to seven calls in flight (the group read, the topology's)
            max_pool_connections=max(10, settings.sweep_concurrency * 4),
            user_agent_extra="secmonkey-collector",
        )

    @property
    def events(self) -> Any:
        """The session's botocore event system (hooks see every call of clients made after)."""
        return self._session.events

    def _new_client(self, owner: str, service: str, region: str) -> Any:
        """The hub's own client (`owner` "hub": boto3's credential chain) or the client
        the accounts share (`owner` "shared": it signs only as an acting account)."""
        keys: dict[str, str] = {}
        if owner == "shared":
            # Never used to sign (`sign_as_acting` replaces them or refuses the call), but
            # they keep botocore from looking for the hub's credentials for this client.
            keys = {"aws_access_key_id": "unset", "aws_secret_access_key": "unset"}
        client = self._session.client(
            service,
            region_name=region,
            endpoint_url=self.settings.aws_endpoint_url,
            config=self.config,
            **keys,
        )
        if owner == "shared":
            client.meta.events.register_first(
                "before-sign", sign_as_acting, unique_id="secmonkey-acting"
            )
            if self.settings.aws_pace_rate > 0:
                # The monitored accounts' quotas are the customer's; the hub's own calls
                # (AssumeRole for every account) are not held to their ceiling.
                self.pacer.attach(client, acting_account, region, service)
        return client

    def _cached(self, key: tuple[str, str, str]) -> Any:
        """The client of `key` (owner, service, region), made once. The lookup takes no
        lock (a dict read is atomic in CPython) and is never a scan, so its cost does not
        grow with the estate."""
        cached = self._clients.get(key)
        if cached is not None:
            return cached
        with self._create:
            cached = self._clients.get(key)
            if cached is None:
                cached = self._new_client(*key)
                with self._lock:
                    self._clients[key] = cached
            return cached

    def hub_client(self, service: str, region: str | None = None) -> Any:
        """A client with the hub's own credentials."""
        return self._cached(("hub", service, region or self.settings.aws_region))

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
        """A client acting in `account` (the region-service's shared client, signing as
        the account), reused while its credentials stay the same."""
        creds = self.credentials(account)
        if creds is None:
            return self.hub_client(service, region)
        key = (account.id, service, region)
        acting = self._acting.get(key)
        if acting is None or acting.access_key_id != creds.access_key_id:
            frozen = Credentials(creds.access_key_id, creds.secret_access_key, creds.session_token)
            acting = AccountClient(self._cached(("shared", service, region)), account.id, frozen)
            with self._lock:
                self._acting[key] = acting
        return acting

    def forget(self, account_id: str) -> None:
        """Drop cached credentials and clients of an account (after it was refused, say)."""
        with self._lock:
            self._credentials.pop(account_id, None)
            for key in [k for k in self._acting if k[0] == account_id]:
                del self._acting[key]
