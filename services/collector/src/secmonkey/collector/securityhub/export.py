"""Opted-in accounts' findings to AWS Security Hub, kept in step with each issue's life.

Why the collector: it is the one service that holds AWS credentials (its pod role, the
hub policy, the STS AssumeRole code with ExternalIds) and already runs consumers; the
notifier stays without any AWS access and its egress limited to SMTP and webhooks. So a
collector consumer of `secmonkey.events` (queue `collector.securityhub`, bound to
`issue.#` and `group.deleted`) does it, from each account itself: it assumes the
account's separate opt-in writer role (deploy/iam `writer-role.yaml`), never the
read-only monitoring role, and imports into that account's own Security Hub.

Per message: `issue.*` → that issue's finding; `group.deleted` → every finding of the
group, archived. Accounts without `security_hub` (or disabled) are skipped (acked). A
throttled, unreachable or failing Security Hub is retried in place (the message stays
unacknowledged); an AWS refusal that retrying cannot fix (the role cannot be assumed,
Security Hub not enabled, a finding refused as invalid) dead-letters the message with
the reason, where it can be read and replayed once fixed: nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from aio_pika.abc import AbstractIncomingMessage
from botocore.exceptions import BotoCoreError, ClientError

from secmonkey.collector.credentials import AwsClients, AwsError, aws_error
from secmonkey.collector.securityhub.asff import finding_id, to_asff
from secmonkey.collector.securityhub.batches import Batcher
from secmonkey.collector.settings import Settings
from secmonkey.common import finding_reads, rule_catalog
from secmonkey.common.accounts import get_account
from secmonkey.common.amqp import QueueSpec
from secmonkey.common.amqp.topology import SECURITYHUB_QUEUE
from secmonkey.common.documents import Account
from secmonkey.common.errors import PermanentError, TransientError
from secmonkey.common.messages import EVENTS_EXCHANGE, Event, parse_message
from secmonkey.common.security_hub import SecurityHubExport
from secmonkey.common.storage import Database

log = logging.getLogger(__name__)

ROUTING_KEYS = tuple(SECURITYHUB_QUEUE.routing_keys)
_TRANSIENT_CODES = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "LimitExceededException",
    "RequestLimitExceeded",
    "InternalException",
    "InternalFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
}
_NETWORK = (
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ConnectionClosedError",
)


def queue_spec(settings: Settings) -> QueueSpec:
    return QueueSpec(settings.securityhub_queue, EVENTS_EXCHANGE, ROUTING_KEYS)


def classify(exc: Exception, what: str) -> Exception:
    """A transient failure (retry in place) or a permanent one (dead-letter, with why)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        code = str(error.get("Code") or "")
        if code in _TRANSIENT_CODES or status >= 500:
            return TransientError(f"{what}: {code or status}: {error.get('Message') or exc}")
    if isinstance(exc, BotoCoreError) and type(exc).__name__ in _NETWORK:
        return TransientError(f"{what}: {exc}")
    if isinstance(exc, AwsError) and (exc.code in _TRANSIENT_CODES or exc.code in _NETWORK):
        return TransientError(f"{what}: {exc}")
    failure = exc if isinstance(exc, AwsError) else aws_error(exc)
    return PermanentError(f"{what}: {failure}")


class SecurityHubExporter:
    """The consumer's handler: event → the findings it concerns → batched imports."""

    def __init__(self, settings: Settings, db: Database, *, account_ttl: float = 5.0) -> None:
        session = settings.model_copy(
            update={"role_session_name": settings.securityhub_session_name}
        )
        self.clients = AwsClients(session)
        self.db = db
        self.executor = ThreadPoolExecutor(4, thread_name_prefix="securityhub")
        self.batcher = Batcher(self._send, linger=settings.securityhub_linger_seconds)
        self.account_ttl = account_ttl
        self._accounts: dict[str, tuple[float, asyncio.Future[Account | None]]] = {}
        self._catalog: tuple[float, dict[str, rule_catalog.CatalogRule]] = (0.0, {})
        self.imported = 0  # findings Security Hub accepted, for logs and tests

    async def _account(self, account_id: str) -> Account | None:
        """The account, read at most once per `account_ttl` however many events ask for it
        at once (a burst of issue events all missed the cache and each read it)."""
        cached = self._accounts.get(account_id)
        if cached is None or time.monotonic() - cached[0] >= self.account_ttl:
            cached = (time.monotonic(), asyncio.ensure_future(get_account(self.db, account_id)))
            self._accounts[account_id] = cached
        try:
            return await asyncio.shield(cached[1])  # one handler's cancellation is not all
        except Exception:
            if self._accounts.get(account_id) is cached:
                del self._accounts[account_id]  # the next event reads it again
            raise

    async def _rules(self) -> dict[str, rule_catalog.CatalogRule]:
        at, rules = self._catalog
        if time.monotonic() - at > 60 or not rules:
            rules = {r.id: r for r in await rule_catalog.read(self.db)}
            self._catalog = (time.monotonic(), rules)
        return rules

    async def handle(self, message: AbstractIncomingMessage) -> None:
        event = parse_message(Event, message.body)
        if event.account_id is None or event.region is None:
            return
        if not (event.type == "group.deleted" or event.type.startswith("issue.")):
            return
        account = await self._account(event.account_id)
        export = account.security_hub if account is not None else None
        if account is None or export is None or not export.enabled:
            return
        if event.type == "group.deleted":
            ids = await finding_reads.group_issue_ids(self.db, event.key)
        else:
            ids = [event.issue.issue_id] if event.issue is not None else []
        if ids:
            await self.batcher.submit(account.id, export.region or event.region, ids)

    async def _send(self, account_id: str, region: str, ids: list[str]) -> dict[str, str]:
        account = await self._account(account_id)
        export = account.security_hub if account is not None else None
        if account is None or export is None:
            return {}  # opted out meanwhile: nothing to send
        docs = await finding_reads.issues_by_id(self.db, ids)
        rules = await self._rules()
        gone = await finding_reads.deleted_groups(self.db, [str(d["key"]) for d in docs.values()])
        now = datetime.now(UTC)
        findings = []
        for doc in docs.values():
            rule = rules.get(str(doc["rule_id"]))
            title = rule.title if rule is not None else str(doc["rule_id"])
            tags = list(rule.compliance) if rule is not None else list(doc.get("compliance") or [])
            findings.append(
                to_asff(
                    doc,
                    region=region,
                    title=title,
                    tags=tags,
                    now=now,
                    group_deleted=str(doc["key"]) in gone,
                )
            )
        if not findings:
            return {}
        answer = await asyncio.get_running_loop().run_in_executor(
            self.executor, self._import, account, export, region, findings
        )
        refused = {str(f.get("Id")): f for f in answer.get("FailedFindings") or []}
        self.imported += len(findings) - len(refused)
        out: dict[str, str] = {}
        for issue_id in docs:
            failed = refused.get(finding_id(issue_id))
            if failed is None:
                continue
            reason = f"{failed.get('ErrorCode')}: {failed.get('ErrorMessage')}"
            if str(failed.get("ErrorCode")) in _TRANSIENT_CODES:
                raise TransientError(f"Security Hub throttled finding {issue_id}: {reason}")
            out[issue_id] = reason
        log.info(
            "imported %d finding(s) into Security Hub",
            len(findings) - len(out),
            extra={"account_id": account_id, "region": region},
        )
        return out

    def _import(
        self, account: Account, export: SecurityHubExport, region: str, findings: list[Any]
    ) -> dict[str, Any]:
        writer = account.model_copy(update={"role_arn": export.role_arn})
        what = f"BatchImportFindings in {account.id}/{region} as {export.role_arn}"
        try:
            client = self.clients.client(writer, "securityhub", region)
            answer: dict[str, Any] = client.batch_import_findings(Findings=findings)
        except Exception as exc:
            failure = classify(exc, what)
            if isinstance(failure, PermanentError):
                self.clients.forget(account.id)  # assume again next time: the role may be fixed
            raise failure from exc
        return answer

    async def close(self) -> None:
        await self.batcher.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
