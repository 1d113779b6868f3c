"""Per-rule settings as they appear in the rules file (and their defaults)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from secmonkey.common.severity import Severity

_PORT_SPEC = re.compile(r"^(?:(tcp|udp)/)?(\d{1,5})(?:-(\d{1,5}))?$")


class PortSpec(BaseModel):
    """A protocol and an inclusive port range, written `22`, `20-21`, `udp/11211`."""

    model_config = ConfigDict(frozen=True)

    protocol: str = "tcp"
    low: int
    high: int

    @classmethod
    def parse(cls, value: int | str) -> PortSpec:
        match = _PORT_SPEC.match(str(value).strip().lower())
        if not match:
            raise ValueError(f"invalid port {value!r}: use 22, 20-21 or udp/11211")
        protocol, low, high = match.group(1) or "tcp", int(match.group(2)), match.group(3)
        top = int(high) if high is not None else low
        if not 0 <= low <= top <= 65535:
            raise ValueError(f"invalid port range {value!r}: ports run 0-65535, low to high")
        return cls(protocol=protocol, low=low, high=top)

    def overlaps(self, protocol: str, low: int, high: int) -> bool:
        return protocol in (self.protocol, "-1") and self.low <= high and low <= self.high

    def text(self) -> str:
        ports = str(self.low) if self.low == self.high else f"{self.low}-{self.high}"
        return ports if self.protocol == "tcp" else f"{self.protocol}/{ports}"


class RuleSettings(BaseModel):
    """Settings of one rule; every field is optional so that layers (file, account) merge."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool | None = None
    severity: Severity | None = None
    ports: tuple[PortSpec, ...] | None = Field(
        default=None, description="internet-admin-port: the administrative and database ports"
    )
    low_ports: tuple[PortSpec, ...] | None = Field(
        default=None, description="internet-ingress: ports whose exposure is only low (80, 443)"
    )
    max_ports: int | None = Field(default=None, ge=1, description="large-port-range threshold")
    ipv4_prefix: int | None = Field(default=None, ge=0, le=32, description="broad-cidr: IPv4")
    ipv6_prefix: int | None = Field(default=None, ge=0, le=128, description="broad-cidr: IPv6")
    max_rules: int | None = Field(default=None, ge=1, description="many-rules threshold")
    days: int | None = Field(default=None, ge=1, le=90, description="unused-rule: idle days")
    max_networks: int | None = Field(
        default=None, ge=1, le=50, description="narrowable-rule: at most this many networks"
    )
    min_hits: int | None = Field(default=None, ge=1, description="narrowable-rule: flows")

    @field_validator("ports", "low_ports", mode="before")
    @classmethod
    def _ports(cls, value: object) -> object:
        if value is None:
            return None
        if not isinstance(value, list | tuple):
            raise ValueError("a list of ports is expected, e.g. [22, 3389, 20-21, udp/11211]")
        return tuple(v if isinstance(v, PortSpec) else PortSpec.parse(v) for v in value)

    def merged(self, override: RuleSettings | None) -> RuleSettings:
        """These settings with every field `override` sets replaced."""
        if override is None:
            return self
        update = {
            name: getattr(override, name)
            for name in type(override).model_fields
            if getattr(override, name) is not None
        }
        return self.model_copy(update=update)

    def get_ports(self) -> tuple[PortSpec, ...]:
        return self.ports or ()
