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


# administration -------------------------------------------------------------------------


def accounts() -> Call[list[m.Account]]:
    return _call("GET", "/accounts", list[m.Account])


def account(account_id: str) -> Call[m.Account]:
    return _call("GET", f"/accounts/{_seg(account_id)}", m.Account)


def create_account(account: dict[str, Any]) -> Call[m.Account]:
    return _call("POST", "/accounts", m.Account, json=account)


def update_account(account_id: str, fields: dict[str, Any]) -> Call[m.Account]:
    return _call("PUT", f"/accounts/{_seg(account_id)}", m.Account, json=fields)


def delete_account(account_id: str) -> Call[None]:
    return _call("DELETE", f"/accounts/{_seg(account_id)}", None)


def subscriptions() -> Call[list[m.Subscription]]:
    return _call("GET", "/subscriptions", list[m.Subscription])


def subscription(subscription_id: str) -> Call[m.Subscription]:
    return _call("GET", f"/subscriptions/{_seg(subscription_id)}", m.Subscription)


def create_subscription(subscription: dict[str, Any]) -> Call[m.Subscription]:
    return _call("POST", "/subscriptions", m.Subscription, json=subscription)


def update_subscription(subscription_id: str, fields: dict[str, Any]) -> Call[m.Subscription]:
    return _call("PUT", f"/subscriptions/{_seg(subscription_id)}", m.Subscription, json=fields)


def delete_subscription(subscription_id: str) -> Call[None]:
    return _call("DELETE", f"/subscriptions/{_seg(subscription_id)}", None)


def test_subscription(subscription_id: str) -> Call[m.SubscriptionTestQueued]:
    path = f"/subscriptions/{_seg(subscription_id)}/test"
    return _call("POST", path, m.SubscriptionTestQueued)


def allowlist() -> Call[list[m.AllowlistEntry]]:
    return _call("GET", "/allowlist", list[m.AllowlistEntry])


def put_allowlist(name: str, cidr: str, description: str = "") -> Call[m.AllowlistEntry]:
    body = {"cidr": cidr, "description": description}
    return _call("PUT", f"/allowlist/{_seg(name)}", m.AllowlistEntry, json=body)


def delete_allowlist(name: str) -> Call[None]:
    return _call("DELETE", f"/allowlist/{_seg(name)}", None)


def audit_log(
    *,
    action: str | None = None,
    actor: str | None = None,
    target: str | None = None,
    since: datetime | str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[m.AuditPage]:
    return _call("GET", "/audit-log", m.AuditPage, dict(locals()))


def keys() -> Call[list[m.ApiKey]]:
    return _call("GET", "/keys", list[m.ApiKey])


def create_key(name: str, role: Role, expires_at: datetime | None = None) -> Call[m.CreatedKey]:
    body: dict[str, Any] = {"name": name, "role": role}
    if expires_at is not None:
        body["expires_at"] = expires_at.isoformat()
    return _call("POST", "/keys", m.CreatedKey, json=body)


def update_key(
    key_id: str, *, name: str | None = None, role: Role | None = None, enabled: bool | None = None
) -> Call[m.ApiKey]:
    body = {
        k: v for k, v in (("name", name), ("role", role), ("enabled", enabled)) if v is not None
    }
    return _call("PATCH", f"/keys/{_seg(key_id)}", m.ApiKey, json=body)


def delete_key(key_id: str) -> Call[None]:
    return _call("DELETE", f"/keys/{_seg(key_id)}", None)


def sweep(
    account_id: str | None = None, regions: Sequence[str] | None = None
) -> Call[m.SweepsQueued]:
    """Ask the collectors to sweep one account (None: every monitored account) now."""
    body = {"account_id": account_id, "regions": list(regions) if regions else None}
    return _call("POST", "/sweeps", m.SweepsQueued, json=body)


def discover() -> Call[m.DiscoveryView]:
    """Ask the collector to enrol the AWS organization's accounts now (admin)."""
    return _call("POST", "/accounts/discover", m.DiscoveryView)


def discovery(request_id: str) -> Call[m.DiscoveryView]:
    """A discovery request and, once the collector answered, what it did."""
    return _call("GET", f"/accounts/discover/{_seg(request_id)}", m.DiscoveryView)


# dead letters (admin) -------------------------------------------------------------------


def dead_letters(queue: str | None = None, *, limit: int | None = None) -> Call[m.DeadLetterList]:
    """Each consumer queue's dead-letter depth and messages (reason, age, publisher)."""
    return _call("GET", "/dead-letters", m.DeadLetterList, {"queue": queue, "limit": limit})


def dead_letter(queue: str, letter_id: str) -> Call[m.DeadLetterDetail]:
    return _call("GET", f"/dead-letters/{_seg(queue)}/{_seg(letter_id)}", m.DeadLetterDetail)


def replay_dead_letters(queue: str, ids: Sequence[str] | None = None) -> Call[m.DeadLetterOutcome]:
    """Put dead letters (None: all) back into the queue they came from."""
    body = {"all": True} if ids is None else {"ids": list(ids)}
    return _call("POST", f"/dead-letters/{_seg(queue)}/replay", m.DeadLetterOutcome, json=body)


def purge_dead_letters(queue: str, ids: Sequence[str] | None = None) -> Call[m.DeadLetterOutcome]:
    """Remove dead letters (None: all) for good."""
    params = {"all": True} if ids is None else {"id": list(ids)}
    return _call("DELETE", f"/dead-letters/{_seg(queue)}", m.DeadLetterOutcome, params)


# change control -----------------------------------------------------------------------


def scopes() -> Call[list[m.ScopeView]]:
    return _call("GET", "/scopes", list[m.ScopeView])


def put_scope(name: str, body: dict[str, Any]) -> Call[m.ScopeView]:
    return _call("PUT", f"/scopes/{_seg(name)}", m.ScopeView, json=body)


def delete_scope(name: str) -> Call[None]:
    return _call("DELETE", f"/scopes/{_seg(name)}", None)


def change_reviews(
    *,
    status: Literal["pending", "approved", "rejected"] | None = "pending",
    scope: str | None = None,
    account_id: str | None = None,
    overdue: bool | None = None,
    limit: int | None = None,
) -> Call[m.ReviewPage]:
    params = {
        "status": status,
        "scope": scope,
        "account_id": account_id,
        "overdue": overdue,
        "limit": limit,
    }
    return _call("GET", "/change-reviews", m.ReviewPage, params)


def change_review(review_id: str) -> Call[m.ReviewDetail]:
    return _call("GET", f"/change-reviews/{_seg(review_id)}", m.ReviewDetail)


def review_change(
    review_id: str,
    decision: Literal["approve", "reject"],
    ticket: str | None = None,
    comment: str | None = None,
) -> Call[m.ReviewView]:
    body = {"decision": decision, "ticket": ticket, "comment": comment}
    path = f"/change-reviews/{_seg(review_id)}/review"
    return _call("POST", path, m.ReviewView, json={k: v for k, v in body.items() if v})


def review_changes(
    ids: Sequence[str],
    decision: Literal["approve", "reject"],
    ticket: str | None = None,
    comment: str | None = None,
) -> Call[list[m.BulkResult]]:
    body = {"ids": list(ids), "decision": decision, "ticket": ticket, "comment": comment}
    clean = {k: v for k, v in body.items() if v}
    return _call("POST", "/change-reviews/review", list[m.BulkResult], json=clean)


def verify_chain(
    start: datetime | None = None, end: datetime | None = None
) -> Call[m.VerificationView]:
    return _call("GET", "/chain/verify", m.VerificationView, {"from": start, "to": end})


def export_chain() -> Call[dict[str, Any]]:
    return _call("GET", "/chain/export", dict[str, Any])


def anchor_chain() -> Call[m.AnchorView]:
    return _call("POST", "/chain/anchors", m.AnchorView)


def latest_anchor() -> Call[m.AnchorView]:
    return _call("GET", "/chain/anchors/latest", m.AnchorView)
