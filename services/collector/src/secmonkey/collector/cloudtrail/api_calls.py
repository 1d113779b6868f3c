"""Reading one CloudTrail API call out of an EventBridge "AWS API Call via CloudTrail" event.

Only the calls that change a security group matter. The group is named, best first, by
the response (`responseElements.groupId`, `securityGroupRuleSet.items[].groupId`), then by
the request (`groupId`, `ModifySecurityGroupRulesRequest.GroupId`, the `sg-` entries of
`resourcesSet`). A call made in a default VPC may name the group only by `groupName`; that
name is resolved later (a describe, or for a delete the stored history).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from secmonkey.common.dates import aware
from secmonkey.common.errors import InvalidInput
from secmonkey.common.messages import ACCOUNT_ID_PATTERN, REGION_PATTERN, Caller

DETAIL_TYPE = "AWS API Call via CloudTrail"
EVENT_SOURCE = "ec2.amazonaws.com"

# Every EC2 call that changes a security group (CreateTags/DeleteTags only on `sg-` resources).
GROUP_EVENTS = frozenset(
    {
        "CreateSecurityGroup",
        "DeleteSecurityGroup",
        "AuthorizeSecurityGroupIngress",
        "AuthorizeSecurityGroupEgress",
        "RevokeSecurityGroupIngress",
        "RevokeSecurityGroupEgress",
        "ModifySecurityGroupRules",
        "UpdateSecurityGroupRuleDescriptionsIngress",
        "UpdateSecurityGroupRuleDescriptionsEgress",
    }
)
TAG_EVENTS = frozenset({"CreateTags", "DeleteTags"})
# Calls that change what the internet can reach (issue 16): the window re-reads the
# region with its topology, so every group whose exposure changed is re-audited.
TOPOLOGY_EVENTS = frozenset(
    {
        "AssociateAddress",
        "DisassociateAddress",
        "CreateRoute",
        "ReplaceRoute",
        "DeleteRoute",
        "CreateNetworkAclEntry",
        "ReplaceNetworkAclEntry",
        "DeleteNetworkAclEntry",
        "ReplaceNetworkAclAssociation",
        "ModifyNetworkInterfaceAttribute",
    }
)
HANDLED_EVENTS = GROUP_EVENTS | TAG_EVENTS | TOPOLOGY_EVENTS

_GROUP_ID = re.compile(r"^sg-[0-9a-f]{8,17}$")
_ACCOUNT = re.compile(ACCOUNT_ID_PATTERN)
_REGION = re.compile(REGION_PATTERN)


class MalformedEvent(InvalidInput):
    """The message is not an event this consumer can ever act on: it goes to the DLQ."""


@dataclass(frozen=True)
class ApiCall:
    """One security-group API call: where, which groups, and who made it."""

    event_id: str
    event_name: str
    account_id: str
    region: str
    at: datetime
    caller: Caller
    group_ids: tuple[str, ...] = ()
    group_names: tuple[str, ...] = field(default=(), repr=False)
    topology: bool = False  # a route, ACL or address call: the region is re-read

    @property
    def is_delete(self) -> bool:
        return self.event_name == "DeleteSecurityGroup"


@dataclass(frozen=True)
class Ignored:
    """A well-formed event that needs no action (a failed call, tags on an instance, ...)."""

    reason: str
    event_id: str | None = None


def _items(value: Any) -> list[Any]:
    """CloudTrail's `{"items": [...]}` lists, tolerant of absent or empty ones."""
    if isinstance(value, dict):
        items = value.get("items")
        return items if isinstance(items, list) else []
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _timestamp(value: Any, where: str) -> datetime:
    text = _text(value)
    if text is None:
        raise MalformedEvent(f"{where} is missing")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedEvent(f"{where} {text!r} is not a timestamp") from None
    return aware(parsed)


def _group_ids(detail: dict[str, Any]) -> list[str]:
    """Group IDs named by the call, the response's first (it is what AWS acted on)."""
    found: list[Any] = []
    response = detail.get("responseElements")
    request = detail.get("requestParameters")
    response = response if isinstance(response, dict) else {}
    request = request if isinstance(request, dict) else {}
    found.append(response.get("groupId"))
    for rule in _items(response.get("securityGroupRuleSet")):
        if isinstance(rule, dict):
            found.append(rule.get("groupId"))
    found.append(request.get("groupId"))
    modify = request.get("ModifySecurityGroupRulesRequest")
    if isinstance(modify, dict):
        found.append(modify.get("GroupId"))
    for resource in _items(request.get("resourcesSet")):
        if isinstance(resource, dict):
            found.append(resource.get("resourceId"))
    ids: list[str] = []
    for value in found:
        if isinstance(value, str) and value.startswith("sg-") and value not in ids:
            if not _GROUP_ID.match(value):
                raise MalformedEvent(f"{value!r} is not a security group ID")
            ids.append(value)
    return ids


def caller_of(detail: dict[str, Any], event_id: str, event_name: str, at: datetime) -> Caller:
    """Who made the call: the identity's ARN (or the service that acted), source IP, agent."""
    identity = detail.get("userIdentity")
    identity = identity if isinstance(identity, dict) else {}
    arn = _text(identity.get("arn")) or _text(identity.get("invokedBy"))
    if arn is None and identity.get("type") == "Root" and _text(identity.get("accountId")):
        arn = f"arn:aws:iam::{identity['accountId']}:root"
    return Caller(
        event_id=event_id,
        event_name=event_name,
        arn=arn,
        source_ip=_text(detail.get("sourceIPAddress")),
        user_agent=_text(detail.get("userAgent")),
        at=at,
    )


def parse_detail(detail: dict[str, Any]) -> ApiCall | Ignored:
    """One CloudTrail record: the call it describes, or why it needs no action."""
    event_name = _text(detail.get("eventName"))
    if event_name is None:
        raise MalformedEvent("detail.eventName is missing")
    event_id = _text(detail.get("eventID"))
    if event_id is None:
        raise MalformedEvent(f"{event_name}: detail.eventID is missing")
    if event_name not in HANDLED_EVENTS:
        return Ignored(f"{event_name} does not change security groups", event_id)
    source = detail.get("eventSource")
    if source is not None and source != EVENT_SOURCE:
        return Ignored(f"{event_name} from {source}, not EC2", event_id)
    if detail.get("errorCode"):
        return Ignored(f"{event_name} failed ({detail['errorCode']})", event_id)
    account_id = _text(detail.get("recipientAccountId"))
    if account_id is None or not _ACCOUNT.match(account_id):
        raise MalformedEvent(f"{event_name} {event_id}: recipientAccountId {account_id!r}")
    region = _text(detail.get("awsRegion"))
    if region is None or not _REGION.match(region):
        raise MalformedEvent(f"{event_name} {event_id}: awsRegion {region!r}")
    at = _timestamp(detail.get("eventTime"), f"{event_name} {event_id}: eventTime")
    if event_name in TOPOLOGY_EVENTS:
        return ApiCall(
            event_id=event_id,
            event_name=event_name,
            account_id=account_id,
            region=region,
            at=at,
            caller=caller_of(detail, event_id, event_name, at),
            topology=True,
        )
    ids = _group_ids(detail)
    names: list[str] = []
    if not ids:
        if event_name in TAG_EVENTS:
            return Ignored(f"{event_name} on no security group", event_id)
        request = detail.get("requestParameters")
        name = _text(request.get("groupName")) if isinstance(request, dict) else None
        if name is None:
            raise MalformedEvent(f"{event_name} {event_id} names no security group")
        names.append(name)
    return ApiCall(
        event_id=event_id,
        event_name=event_name,
        account_id=account_id,
        region=region,
        at=at,
        caller=caller_of(detail, event_id, event_name, at),
        group_ids=tuple(ids),
        group_names=tuple(names),
    )


def parse_body(body: str | bytes) -> ApiCall | Ignored:
    """An SQS message body: an EventBridge event (or a bare CloudTrail record)."""
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEvent(f"not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise MalformedEvent(f"expected a JSON object, got {type(event).__name__}")
    if "detail" in event or "detail-type" in event:
        detail_type = event.get("detail-type")
        if detail_type != DETAIL_TYPE:
            return Ignored(f"detail-type {detail_type!r}", _text(event.get("id")))
        detail = event.get("detail")
        if not isinstance(detail, dict):
            raise MalformedEvent("detail is not an object")
        return parse_detail(detail)
    if "eventName" in event:
        return parse_detail(event)
    raise MalformedEvent("neither an EventBridge event nor a CloudTrail record")
