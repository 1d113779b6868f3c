"""What the rules need from outside the group: accounts (monitored, trusted) and the allowlist.

The api writes `accounts` and `allowlist` at any time; the auditor reads them per batch, or
keeps them for `ttl` seconds when it is set (a few seconds is plenty for an operator).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

from secmonkey.auditor.rules.base import RuleContext
from secmonkey.auditor.rules.engine import prepare
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common.canonical import Attachments
from secmonkey.common.cidr import IPNetwork, parse_network
from secmonkey.common.errors import InvalidInput
from secmonkey.common.storage import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Directory:
    """A snapshot of `accounts` and `allowlist`."""

    monitored: frozenset[str] = frozenset()
    trusted: frozenset[str] = frozenset()
    names: tuple[tuple[str, str], ...] = ()
    allowlist: tuple[tuple[str, str], ...] = ()

    def account_name(self, account_id: str) -> str | None:
        return dict(self.names).get(account_id)

    def digest(self) -> str:
        text = repr((sorted(self.monitored), sorted(self.trusted), sorted(self.allowlist)))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


async def load_directory(db: Database) -> Directory:
    monitored: set[str] = set()
    trusted: set[str] = set()
    names: list[tuple[str, str]] = []
    async for doc in db.accounts.find({}, {"_id": 1, "trusted": 1, "name": 1}):
        account = str(doc["_id"])
        (trusted if doc.get("trusted") else monitored).add(account)
        if doc.get("name"):
            names.append((account, str(doc["name"])))
    allowlist: list[tuple[str, str]] = []
    async for doc in db.allowlist.find({}, {"_id": 1, "cidr": 1}):
        try:
            parse_network(str(doc.get("cidr", "")))
        except InvalidInput as exc:
            log.warning("ignoring allowlist entry %s: %s", doc["_id"], exc)
            continue
        allowlist.append((str(doc["_id"]), str(doc["cidr"])))
    return Directory(
        frozenset(monitored), frozenset(trusted), tuple(names), tuple(sorted(allowlist))
    )


class ContextSource:
    """Builds the `RuleContext` of each group from the rules file and the directory."""

    def __init__(self, db: Database, config: RulesConfig, ttl: float = 0.0) -> None:
        self.db = db
        self.config = config
        self.ttl = ttl
        self._directory: Directory | None = None
        self._loaded_at = 0.0
        self._networks: dict[str, tuple[tuple[str, IPNetwork], ...]] = {}
        self._contexts: dict[tuple[str, str, str], RuleContext] = {}

    async def directory(self) -> Directory:
        now = time.monotonic()
        if self._directory is None or now - self._loaded_at >= self.ttl:
            directory = await load_directory(self.db)
            if directory != self._directory:
                self._networks.clear()
                self._contexts.clear()
            self._directory = directory
            self._loaded_at = now
        return self._directory

    def digest(self, directory: Directory) -> str:
        return f"{self.config.digest()}{directory.digest()}"

    def context(
        self, directory: Directory, account_id: str, region: str, attachments: Attachments
    ) -> RuleContext:
        # With a topology every group has its own exposure: one base context per region.
        exposure = "reach" if attachments.reachability_known else attachments.exposure()
        cache_key = (account_id, region, exposure)
        base = self._contexts.get(cache_key)
        if base is None:
            base = prepare(
                self.config,
                RuleContext(
                    account_id=account_id,
                    region=region,
                    attachments=attachments,
                    monitored_accounts=directory.monitored,
                    trusted_accounts=directory.trusted | self.config.trusted_for(account_id),
                    allowlist=self._allowlist(directory, account_id),
                ),
            )
            self._contexts[cache_key] = base
        if base.attachments == attachments:
            return base
        return RuleContext(
            account_id=base.account_id,
            region=base.region,
            attachments=attachments,
            monitored_accounts=base.monitored_accounts,
            trusted_accounts=base.trusted_accounts,
            allowlist=base.allowlist,
            admin_ports=base.admin_ports,
            all_ports_enabled=base.all_ports_enabled,
        )

    def _allowlist(
        self, directory: Directory, account_id: str
    ) -> tuple[tuple[str, IPNetwork], ...]:
        cached = self._networks.get(account_id)
        if cached is None:
            networks = dict(self.config.allowlist_for(account_id))
            networks.update({name: parse_network(cidr) for name, cidr in directory.allowlist})
            cached = tuple(sorted(networks.items(), key=lambda kv: kv[0]))
            self._networks[account_id] = cached
        return cached
