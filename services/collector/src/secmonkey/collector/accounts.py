"""Monitored accounts: read from MongoDB `accounts`, optionally seeded from a YAML file.

The file is a list of accounts (or a mapping with an `accounts:` list), each like

    - id: "111111111111"
      name: production
      role_arn: arn:aws:iam::111111111111:role/secmonkey-monitor
      external_id: 7b0c...            # the ExternalId of the role's trust policy
      regions: [us-east-1, eu-west-1] # omit for every enabled region
      labels: [pci]
      interval_minutes: 15            # optional per-account schedule

An entry that is malformed (an account ID that is not 12 digits, a role ARN that is not
an IAM role of that account) is refused with a message naming it; the others still load.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from secmonkey.common import accounts
from secmonkey.common.documents import Account
from secmonkey.common.errors import InvalidInput
from secmonkey.common.storage import Database

log = logging.getLogger(__name__)

ROLE_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::(?P<account>\d{12}):role/[\w+=,.@/-]{1,512}$")


@dataclass
class LoadResult:
    accounts: list[Account] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def validate_account(entry: Any, where: str) -> Account:
    """One account entry checked: `InvalidInput` names the entry and what is wrong with it."""
    if not isinstance(entry, dict):
        raise InvalidInput(f"{where}: expected a mapping, got {type(entry).__name__}")
    entry = dict(entry)
    if "id" in entry and "_id" not in entry:
        entry["_id"] = entry.pop("id")
    if isinstance(entry.get("_id"), int):
        # YAML reads an unquoted account ID as a number; leading zeros are lost.
        entry["_id"] = f"{entry['_id']:012d}"
    label = f"{where} ({entry.get('_id', 'no id')})"
    try:
        account = Account.model_validate(entry)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"{label}: {problems}") from None
    if account.role_arn is not None:
        match = ROLE_ARN.match(account.role_arn)
        if match is None:
            raise InvalidInput(
                f"{label}: role_arn {account.role_arn!r} is not an IAM role ARN "
                "(arn:aws:iam::<12 digits>:role/<name>)"
            )
        if match.group("account") != account.id:
            raise InvalidInput(
                f"{label}: role_arn {account.role_arn!r} belongs to account "
                f"{match.group('account')}, not {account.id}"
            )
    return account


def parse_accounts(text: str, source: str = "accounts file") -> LoadResult:
    """Parse a YAML accounts file; invalid entries are reported, valid ones returned."""
    result = LoadResult()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        result.errors.append(f"{source}: not valid YAML: {exc}")
        return result
    if isinstance(data, dict) and "accounts" in data:
        data = data["accounts"]
    if data is None:
        return result
    if not isinstance(data, list):
        result.errors.append(f"{source}: expected a list of accounts")
        return result
    seen: set[str] = set()
    for index, entry in enumerate(data):
        try:
            account = validate_account(entry, f"{source} entry {index + 1}")
        except InvalidInput as exc:
            result.errors.append(str(exc))
            continue
        if account.id in seen:
            result.errors.append(f"{source} entry {index + 1} ({account.id}): duplicate account")
            continue
        seen.add(account.id)
        result.accounts.append(account)
    return result


async def load_accounts_file(db: Database, path: Path) -> LoadResult:
    """Seed `accounts` from `path`; logs each refused entry and returns what loaded."""
    text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    result = parse_accounts(text, source=str(path))
    for error in result.errors:
        log.error("refused account entry: %s", error)
    await accounts.upsert_accounts(db, result.accounts)
    log.info(
        "loaded %d account(s) from %s (%d refused)",
        len(result.accounts),
        path,
        len(result.errors),
    )
    return result
