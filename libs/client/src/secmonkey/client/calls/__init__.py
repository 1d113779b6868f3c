"""Every API request as a value: method, path, parameters and the model of the answer.

`Client` and `AsyncClient` turn each builder here into a typed method, so the sync and
async clients cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, TypeAdapter

from secmonkey.client import models as m

T = TypeVar("T")
State = Literal["active", "deleted", "all"]
Match = Literal["exact", "contains", "within", "overlaps"]
Direction = Literal["ingress", "egress"]
Role = Literal["viewer", "auditor", "admin", "reviewer"]
ReportFormat = Literal["json", "csv", "html"]


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request; `parse` turns the response body into the answer."""

    method: str
    path: str
    answer: TypeAdapter[T] | None
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None

    def parse(self, status: int, content: bytes, text: str) -> T:
        if self.answer is None:  # 204, or a raw text body
            return text if status != 204 else None  # type: ignore[return-value]
        return self.answer.validate_json(content)


def _call(
    method: str, path: str, answer: Any, params: dict[str, Any] | None = None, json: Any = None
) -> Call[Any]:
    clean = {k: _param(v) for k, v in (params or {}).items() if v is not None}
    adapter = TypeAdapter(answer) if answer is not None else None
    return Call(method, path, adapter, clean, json)


def _param(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return [_param(v) for v in value]
    return value


def _seg(value: str) -> str:
    return quote(value, safe="")


def _body(model: BaseModel | dict[str, Any]) -> Any:
    if isinstance(model, BaseModel):
        return model.model_dump(mode="json", exclude_none=True)
    return model


# groups -------------------------------------------------------------------------------


def groups(
    *,
    account_id: str | None = None,
    region: str | None = None,
    vpc_id: str | None = None,
    name: str | None = None,
    state: State | None = None,
    min_severity: str | None = None,
    has_issues: bool | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[m.GroupPage]:
    """Groups matching every given filter, in pages (`next_cursor`)."""
    return _call("GET", "/groups", m.GroupPage, locals())


def resolve(ids: Sequence[str]) -> Call[m.ResolveResponse]:
    """Name, account, region, VPC and state of each group ID (deleted ones too)."""
    return _call("GET", "/groups/resolve", m.ResolveResponse, {"ids": ",".join(ids)})


def group(
    group_id: str, *, account_id: str | None = None, region: str | None = None
) -> Call[m.GroupDetail]:
    return _call(
        "GET",
        f"/groups/{_seg(group_id)}",
        m.GroupDetail,
        {"account_id": account_id, "region": region},
    )


def usage(
    group_id: str, *, account_id: str | None = None, region: str | None = None
) -> Call[m.GroupUsage]:
    return _call(
        "GET",
        f"/groups/{_seg(group_id)}/usage",
        m.GroupUsage,
        {"account_id": account_id, "region": region},
    )


def revisions(
    group_id: str,
    *,
    account_id: str | None = None,
    region: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[m.RevisionPage]:
    params = {"account_id": account_id, "region": region, "limit": limit, "cursor": cursor}
    return _call("GET", f"/groups/{_seg(group_id)}/revisions", m.RevisionPage, params)


def revision(
    group_id: str, seq: int, *, account_id: str | None = None, region: str | None = None
) -> Call[m.RevisionDetail]:
    return _call(
        "GET",
        f"/groups/{_seg(group_id)}/revisions/{int(seq)}",
        m.RevisionDetail,
        {"account_id": account_id, "region": region},
    )


def at(
    group_id: str,
    time: datetime | str,
    *,
    account_id: str | None = None,
    region: str | None = None,
) -> Call[m.GroupAt]:
    """The group's configuration as it was at `time`."""
    params = {"time": time, "account_id": account_id, "region": region}
    return _call("GET", f"/groups/{_seg(group_id)}/at", m.GroupAt, params)


def diff(
    group_id: str,
    from_: int | datetime | str,
    to: int | datetime | str | None = None,
    *,
    account_id: str | None = None,
    region: str | None = None,
) -> Call[m.GroupDiff]:
    """Changes between two revisions (numbers) or instants; `to` defaults to now."""
    params = {"from": from_, "to": to, "account_id": account_id, "region": region}
    return _call("GET", f"/groups/{_seg(group_id)}/diff", m.GroupDiff, params)


# search -------------------------------------------------------------------------------


def search_ip(
    ip: str,
    *,
    direction: Direction | None = None,
    account_id: str | None = None,
    region: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[m.SearchResult]:
    """Every rule whose range contains the address."""
    return _call("GET", "/search/ip", m.SearchResult, locals())


def search_cidr(
    cidr: str,
    match: Match = "contains",
    *,
    direction: Direction | None = None,
    account_id: str | None = None,
    region: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[m.SearchResult]:
    """Every rule whose range is, contains, lies within or overlaps the network."""
    return _call("GET", "/search/cidr", m.SearchResult, locals())


# issues, report, events -----------------------------------------------------------------


def issues(
    *,
    status: str | None = None,
    severity: str | None = None,
    min_severity: str | None = None,
    rule_id: str | None = None,
    account_id: str | None = None,
    region: str | None = None,
    group_id: str | None = None,
    compliance: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[m.IssuePage]:
    return _call("GET", "/issues", m.IssuePage, locals())


def issue(issue_id: str) -> Call[m.IssueView]:
    return _call("GET", f"/issues/{_seg(issue_id)}", m.IssueView)


def justify(issue_id: str, reason: str, until: datetime | None = None) -> Call[m.IssueView]:
    """Accept a finding (auditor role) until `until` (None: until withdrawn)."""
    body = {"reason": reason, "until": until.isoformat() if until else None}
    return _call("PUT", f"/issues/{_seg(issue_id)}/justification", m.IssueView, json=body)


def unjustify(issue_id: str) -> Call[None]:
    return _call("DELETE", f"/issues/{_seg(issue_id)}/justification", None)


def report(
    *, account_id: str | None = None, min_severity: str | None = None, limit: int | None = None
) -> Call[m.Report]:
    params = {"format": "json", "account_id": account_id, "min_severity": min_severity}
    return _call("GET", "/report", m.Report, params | {"limit": limit})


def report_text(
    format: Literal["csv", "html"],
    *,
    account_id: str | None = None,
    min_severity: str | None = None,
    limit: int | None = None,
) -> Call[str]:
    """The report as CSV or HTML text."""
    return _call("GET", "/report", None, locals())


def compliance_frameworks() -> Call[list[m.FrameworkView]]:
    """The compliance frameworks of the posture view (cis, pci, hipaa, soc2, nist-800-53)."""
    return _call("GET", "/compliance", list[m.FrameworkView])


def compliance(framework: str, *, account_id: str | None = None) -> Call[m.CompliancePosture]:
    """Each control of `framework`, the rules behind it and pass/fail counts per account."""
    return _call(
        "GET", f"/compliance/{_seg(framework)}", m.CompliancePosture, {"account_id": account_id}
    )


def export_ocsf(
    finding_class: Literal["detection", "compliance"] = "detection",
    *,
    status: str | None = None,
    account_id: str | None = None,
    compliance: str | None = None,
    min_severity: str | None = None,
) -> Call[str]:
    """Every finding as OCSF 1.5, one JSON object per line (NDJSON text)."""
    params = {
        "class": finding_class,
        "status": status,
        "account_id": account_id,
        "compliance": compliance,
        "min_severity": min_severity,
    }
    return _call("GET", "/export/ocsf", None, params)


def exposure(
    *,
    account_id: str | None = None,
    region: str | None = None,
    port: int | None = None,
    resource_type: str | None = None,
    group_id: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[m.ExposurePage]:
    """Every endpoint the internet reaches, and through which rule."""
    return _call("GET", "/exposure", m.ExposurePage, locals())


def events(
    *,
    type: Sequence[str] | None = None,
    account_id: str | None = None,
    region: str | None = None,
    group_id: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    order: Literal["desc", "asc"] | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[m.EventPage]:
    params = dict(locals())
    params["type"] = list(type) if type else None
    return _call("GET", "/events", m.EventPage, params)


# The administration calls live in `admin` (imported last: they build on what is above).
from secmonkey.client.calls.admin import *  # noqa: E402, F403
