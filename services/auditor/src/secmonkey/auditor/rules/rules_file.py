"""The rules file (`SECMONKEY_RULES_FILE`): enable/disable, severities, thresholds, allowlist,
trusted accounts and per-account overrides. A broken file is refused with its line and reason.

```yaml
rules:
  internet-admin-port: {severity: critical, ports: [22, 3389, 20-21, udp/11211]}
  unused-group: {enabled: false}
  large-port-range: {max_ports: 1000}
allowlist:
  office: 203.0.113.0/24
trusted_accounts: ["222222222222"]
accounts:
  "111111111111":
    rules: {public-source: {enabled: false}}
    allowlist: {partner: 198.51.100.0/24}
    trusted_accounts: ["333333333333"]
```
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from secmonkey.auditor.rules import RULES_BY_ID
from secmonkey.auditor.rules.rule_settings import RuleSettings
from secmonkey.common.cidr import IPNetwork, parse_network
from secmonkey.common.errors import InvalidInput
from secmonkey.common.messages import AccountId


class RulesFileError(InvalidInput):
    """The rules file cannot be used; the message names the file, the line and the reason."""


def _known_rule(value: str) -> str:
    if value not in RULES_BY_ID:
        raise ValueError(f"unknown rule id {value!r}; known: {', '.join(sorted(RULES_BY_ID))}")
    return value


def _valid_network(value: str) -> str:
    try:
        parse_network(value)
    except InvalidInput as exc:
        raise ValueError(str(exc)) from None
    return value


RuleId = Annotated[str, AfterValidator(_known_rule)]
Cidr = Annotated[str, AfterValidator(_valid_network)]


class AccountOverride(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: dict[RuleId, RuleSettings] = Field(default_factory=dict)
    allowlist: dict[str, Cidr] = Field(default_factory=dict)
    trusted_accounts: list[AccountId] = Field(default_factory=list)


class ExposureSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="lower unattached, raise public findings")


class RulesConfig(BaseModel):
    """Every audit setting; `RulesConfig()` is the defaults of DESIGN §5."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    rules: dict[RuleId, RuleSettings] = Field(default_factory=dict)
    allowlist: dict[str, Cidr] = Field(default_factory=dict, description="name → CIDR")
    trusted_accounts: list[AccountId] = Field(default_factory=list)
    accounts: dict[AccountId, AccountOverride] = Field(default_factory=dict)
    exposure: ExposureSettings = Field(default_factory=ExposureSettings)

    def settings_for(self, rule_id: str, account_id: str) -> RuleSettings:
        """The rule's settings for one account: defaults, then the file, then the account."""
        rule = RULES_BY_ID[rule_id]
        base = RuleSettings(enabled=rule.default_enabled).merged(self.rules.get(rule_id))
        override = self.accounts.get(account_id)
        return base.merged(override.rules.get(rule_id) if override else None)

    def allowlist_for(self, account_id: str) -> dict[str, IPNetwork]:
        names = dict(self.allowlist)
        override = self.accounts.get(account_id)
        if override:
            names.update(override.allowlist)
        return {name: parse_network(cidr) for name, cidr in names.items()}

    def trusted_for(self, account_id: str) -> frozenset[str]:
        override = self.accounts.get(account_id)
        extra = override.trusted_accounts if override else []
        return frozenset(self.trusted_accounts) | frozenset(extra)

    def digest(self) -> str:
        """Changes whenever any setting does: part of every group's audit key."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_rules(path: str | Path | None) -> RulesConfig:
    """Read the rules file; None (or an empty path) gives the defaults.

    Raises `RulesFileError` naming the line and the reason when the file is unreadable,
    is not valid YAML, or holds a setting that is not valid.
    """
    if path is None or str(path) == "":
        return RulesConfig()
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesFileError(f"{file}: cannot read the rules file: {exc.strerror or exc}") from None
    return parse_rules(text, str(file))


def parse_rules(text: str, name: str = "<rules>") -> RulesConfig:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise RulesFileError(f"{name}{line}: not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise RulesFileError(f"{name}: not valid YAML: {exc}") from None
    if data is None:
        return RulesConfig()
    if not isinstance(data, dict):
        raise RulesFileError(f"{name}:1: the rules file must be a mapping (rules:, allowlist:, …)")
    try:
        return RulesConfig.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(part for part in error["loc"] if part != "[key]")
        where = ".".join(str(part) for part in loc) or "(top level)"
        reason = error["msg"].removeprefix("Value error, ")
        raise RulesFileError(f"{name}:{_line_of(node, loc)}: {where}: {reason}") from None


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the deepest node `loc` reaches in the YAML tree."""
    line = 1 if node is None else node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value) == str(part):
                    line = key.start_mark.line + 1
                    node = value
                    break
            else:
                return line
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
