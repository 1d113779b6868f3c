"""The canonical form of a security group and its fingerprint.

`DescribeSecurityGroups` lists rules, ranges and tags in whatever order AWS likes and
groups several sources under one permission. The canonical form flattens that into
one `Rule` per (direction, protocol, port range, source), sorted, so that the same
configuration always serialises to the same bytes and the SHA-256 of those bytes
(the fingerprint) changes exactly when the configuration does.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from secmonkey.common.cidr import parse_network
from secmonkey.common.errors import InvalidInput
from secmonkey.common.rule_usage import RuleUsage, usage_digest
from secmonkey.common.topology import Endpoint, endpoints_digest

Direction = Literal["ingress", "egress"]
SourceKind = Literal["cidr4", "cidr6", "group", "prefix_list"]
_PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}


def normalise_protocol(value: str | int) -> str:
    text = str(value).strip().lower()
    return _PROTOCOL_NAMES.get(text, text)


class Rule(BaseModel):
    """One permission: a direction, a protocol and port range, and exactly one source."""

    model_config = ConfigDict(frozen=True)

    direction: Direction
    protocol: str
    from_port: int | None = None
    to_port: int | None = None
    source_kind: SourceKind
    source: str
    source_account: str | None = None
    description: str = ""

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol(cls, value: str | int) -> str:
        return normalise_protocol(value)

    @property
    def all_traffic(self) -> bool:
        """Protocol -1, or a port protocol open on 0-65535."""
        if self.protocol == "-1":
            return True
        return (
            self.protocol in ("tcp", "udp")
            and (self.from_port or 0) <= 0
            and (self.to_port if self.to_port is not None else 65535) >= 65535
        )

    @property
    def port_range(self) -> tuple[int, int] | None:
        """Inclusive port range for tcp/udp (None for protocols without ports)."""
        if self.protocol == "-1":
            return (0, 65535)
        if self.protocol not in ("tcp", "udp"):
            return None
        low = 0 if self.from_port is None or self.from_port < 0 else self.from_port
        high = 65535 if self.to_port is None or self.to_port < 0 else self.to_port
        return (low, high)

    def ports_text(self) -> str:
        if self.protocol == "-1":
            return "all"
        if self.protocol in ("tcp", "udp"):
            low, high = self.port_range or (0, 65535)
            if (low, high) == (0, 65535):
                return f"{self.protocol}/all"
            return f"{self.protocol}/{low}" if low == high else f"{self.protocol}/{low}-{high}"
        if self.protocol in ("icmp", "icmpv6"):
            if self.from_port in (None, -1):
                return f"{self.protocol}/all"
            code = "" if self.to_port in (None, -1) else f":{self.to_port}"
            return f"{self.protocol}/{self.from_port}{code}"
        return f"proto {self.protocol}"

    def source_text(self) -> str:
        if self.source_kind == "group" and self.source_account:
            return f"{self.source} (acct {self.source_account})"
        return self.source

    def text(self) -> str:
        """The rule as one line, e.g. `ingress tcp/22 from 0.0.0.0/0`."""
        preposition = "from" if self.direction == "ingress" else "to"
        return f"{self.direction} {self.ports_text()} {preposition} {self.source_text()}"

    def sort_key(self) -> tuple[Any, ...]:
        return (
            self.direction,
            self.protocol,
            -2 if self.from_port is None else self.from_port,
            -2 if self.to_port is None else self.to_port,
            self.source_kind,
            self.source,
            self.source_account or "",
            self.description,
        )

    def identity(self) -> tuple[Any, ...]:
        """The rule without its description: a changed description is a change to the same rule."""
        return self.sort_key()[:-1]


class CanonicalGroup(BaseModel):
    """The configuration of a group: everything that is part of its fingerprint."""

    model_config = ConfigDict(frozen=True)

    group_id: str
    name: str
    description: str = ""
    vpc_id: str | None = None
    owner_id: str
    tags: dict[str, str] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_from_pairs(cls, value: Any) -> Any:
        # Stored form (`storage_doc`): a list of {key, value} pairs.
        if isinstance(value, list):
            return {str(p["key"]): str(p.get("value", "")) for p in value}
        return value

    @property
    def is_default(self) -> bool:
        return self.name == "default"

    def storage_doc(self) -> dict[str, Any]:
        """The form stored in MongoDB: tags as sorted {key, value} pairs.

        AWS tag keys such as `kubernetes.io/cluster/x` contain dots, which FerretDB refuses
        in field names, so tags never become field names; reading back through this model
        turns the pairs into the map again.
        """
        doc = self.model_dump(mode="json")
        doc["tags"] = [{"key": k, "value": v} for k, v in sorted(self.tags.items())]
        return doc

    def canonical_json(self) -> str:
        doc = self.model_dump(mode="json")
        doc["tags"] = dict(sorted(self.tags.items()))
        doc["rules"] = [r.model_dump(mode="json") for r in sorted(self.rules, key=Rule.sort_key)]
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def fingerprint(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def normalised(self) -> CanonicalGroup:
        """The same group with rules and tags in canonical order."""
        return self.model_copy(
            update={
                "tags": dict(sorted(self.tags.items())),
                "rules": sorted(self.rules, key=Rule.sort_key),
            }
        )


class Attachments(BaseModel):
    """Which interfaces use a group: not part of the fingerprint (an instance stopping is no change)."""

    interface_count: int = 0
    interface_types: list[str] = Field(default_factory=list)
    instance_ids: list[str] = Field(default_factory=list)
    public_ip: bool = False
    # Filled by the auditor from the account-region's topology (absent without one):
    # what the internet reaches through each rule, what else uses the group, and the
    # CIDRs of the prefix lists its rules name.
    endpoints: list[Endpoint] | None = Field(default=None, exclude_if=lambda v: v is None)
    users: list[str] = Field(default_factory=list, exclude_if=lambda v: not v)
    prefix_lists: dict[str, list[str]] = Field(default_factory=dict, exclude_if=lambda v: not v)
    usage: list[RuleUsage] = Field(default_factory=list, description="from VPC flow logs")

    def usage_key(self) -> str:
        return usage_digest(self.usage)

    @property
    def attached(self) -> bool:
        return self.interface_count > 0

    @property
    def in_use(self) -> bool:
        """Attached to an interface, or used by a launch template, load balancer, rule…"""
        return self.attached or bool(self.users)

    @property
    def reachability_known(self) -> bool:
        return self.endpoints is not None

    def exposure(self) -> str:
        """What the severity adjustment depends on: `unattached`, `private` or `public`
        without a topology; with one, a digest of the exposed endpoints and users."""
        if self.endpoints is not None:
            digest = endpoints_digest(self.endpoints, self.users, self.prefix_lists, self.attached)
            return f"reach:{digest}"
        if not self.attached:
            return "unattached"
        return "public" if self.public_ip else "private"


class GroupSnapshot(BaseModel):
    """One observed group as it travels in a SnapshotBatch."""

    config: CanonicalGroup
    fingerprint: str
    attachments: Attachments = Field(default_factory=Attachments)

    @classmethod
    def of(cls, config: CanonicalGroup, attachments: Attachments | None = None) -> GroupSnapshot:
        config = config.normalised()
        return cls(
            config=config,
            fingerprint=config.fingerprint(),
            attachments=attachments or Attachments(),
        )


def _rules_of(permissions: list[dict[str, Any]], direction: Direction, owner: str) -> list[Rule]:
    rules: list[Rule] = []
    for perm in permissions:
        base: dict[str, Any] = {
            "direction": direction,
            "protocol": perm.get("IpProtocol", "-1"),
            "from_port": perm.get("FromPort"),
            "to_port": perm.get("ToPort"),
        }
        if normalise_protocol(base["protocol"]) == "-1":
            base["from_port"] = base["to_port"] = None
        for r in perm.get("IpRanges", []):
            cidr = str(parse_network(r["CidrIp"]))
            rules.append(
                Rule(**base, source_kind="cidr4", source=cidr, description=r.get("Description", ""))
            )
        for r in perm.get("Ipv6Ranges", []):
            cidr = str(parse_network(r["CidrIpv6"]))
            rules.append(
                Rule(**base, source_kind="cidr6", source=cidr, description=r.get("Description", ""))
            )
        for r in perm.get("PrefixListIds", []):
            rules.append(
                Rule(
                    **base,
                    source_kind="prefix_list",
                    source=r["PrefixListId"],
                    description=r.get("Description", ""),
                )
            )
        for r in perm.get("UserIdGroupPairs", []):
            rules.append(
                Rule(
                    **base,
                    source_kind="group",
                    source=r.get("GroupId") or r.get("GroupName", ""),
                    source_account=r.get("UserId") or owner,
                    description=r.get("Description", ""),
                )
            )
    return rules


def canonical_from_aws(entry: dict[str, Any]) -> CanonicalGroup:
    """Turn one `DescribeSecurityGroups` entry into its canonical form."""
    try:
        owner = entry["OwnerId"]
        rules = _rules_of(entry.get("IpPermissions", []), "ingress", owner)
        rules += _rules_of(entry.get("IpPermissionsEgress", []), "egress", owner)
        group = CanonicalGroup(
            group_id=entry["GroupId"],
            name=entry.get("GroupName", ""),
            description=entry.get("Description", ""),
            vpc_id=entry.get("VpcId"),
            owner_id=owner,
            tags={t["Key"]: t.get("Value", "") for t in entry.get("Tags", [])},
            rules=rules,
        )
    except KeyError as exc:
        raise InvalidInput(f"security group entry lacks {exc.args[0]}") from None
    return group.normalised()
