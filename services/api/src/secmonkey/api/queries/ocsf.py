"""Issues as OCSF 1.5 findings, built and validated with `py-ocsf-models`.

Each issue is one Detection Finding (class 2004: a rule of a security product detected
something on a resource) or, for compliance tooling, one Compliance Finding (class 2003:
the same result read as a check of the controls its rule's tags name). Identity is the
issue's id (`finding_info.uid`), stable across the issue's life, so a consumer updates
its copy as the status moves: open → New, justified → Suppressed, fixed → Resolved, the
group deleted → Archived. The group is the resource, as `AWS::EC2::SecurityGroup` with
its ARN; the account and region are the cloud profile's (a Compliance Finding has no
cloud profile in OCSF 1.5: its resource's `data` names the account).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from py_ocsf_models.events.findings.activity_id import ActivityID
from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding
from py_ocsf_models.events.findings.compliance_finding_type_id import ComplianceFindingTypeID
from py_ocsf_models.events.findings.detection_finding import DetectionFinding
from py_ocsf_models.events.findings.detection_finding_type_id import DetectionFindingTypeID
from py_ocsf_models.events.findings.severity_id import SeverityID
from py_ocsf_models.events.findings.status_id import StatusID
from py_ocsf_models.objects.account import Account as OcsfAccount
from py_ocsf_models.objects.account import TypeID as AccountTypeID
from py_ocsf_models.objects.analytic import Analytic
from py_ocsf_models.objects.cloud import Cloud
from py_ocsf_models.objects.compliance import Compliance
from py_ocsf_models.objects.compliance_status import StatusID as ComplianceStatusID
from py_ocsf_models.objects.finding_info import FindingInformation
from py_ocsf_models.objects.metadata import Metadata
from py_ocsf_models.objects.product import Product
from py_ocsf_models.objects.resource_details import ResourceDetails

from secmonkey.common.documents import Issue
from secmonkey.common.frameworks import split_tag
from secmonkey.common.severity import Severity

FindingClass = Literal["detection", "compliance"]
PRODUCT = Product(name="secmonkey", vendor_name="secmonkey", uid="secmonkey")
RESOURCE_TYPE = "AWS::EC2::SecurityGroup"
_ANALYTIC_RULE = 1  # OCSF analytic type_id 1: Rule

_SEVERITY = {
    Severity.INFO: SeverityID.Informational,
    Severity.LOW: SeverityID.Low,
    Severity.MEDIUM: SeverityID.Medium,
    Severity.HIGH: SeverityID.High,
    Severity.CRITICAL: SeverityID.Critical,
}
_STATUS = {
    "open": StatusID.New,
    "justified": StatusID.Suppressed,
    "fixed": StatusID.Resolved,
    "deleted": StatusID.Archived,
}
_ACTIVITY = {
    "open": ActivityID.Create,
    "justified": ActivityID.Update,
    "fixed": ActivityID.Close,
    "deleted": ActivityID.Close,
}
_COMPLIANCE_STATUS = {
    "open": ComplianceStatusID.Fail,
    "justified": ComplianceStatusID.Fail,  # an accepted exception still fails the check
    "fixed": ComplianceStatusID.Pass,
    "deleted": ComplianceStatusID.Unknown,  # nothing left to evaluate
}


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def group_arn(issue: Issue) -> str:
    return f"arn:aws:ec2:{issue.region}:{issue.account_id}:security-group/{issue.group_id}"


def _changed_at(issue: Issue) -> datetime:
    moments = [issue.opened_at, issue.last_seen, issue.fixed_at]
    if issue.justification is not None:
        moments.append(issue.justification.at)
    return max(m for m in moments if m is not None)


def _common(
    issue: Issue, title: str, tags: list[str], account_name: str | None
) -> dict[str, object]:
    changed = _changed_at(issue)
    activity = _ACTIVITY[issue.status]
    if issue.status == "open" and issue.reopened:
        activity = ActivityID.Update
    unmapped: dict[str, object] = {"compliance": tags, "rule_text": issue.rule_text}
    if issue.justification is not None:
        unmapped["justification"] = issue.justification.model_dump(mode="json")
    return {
        "activity_id": activity,
        "activity_name": activity.name,
        "message": issue.message,
        "metadata": Metadata(
            product=PRODUCT,
            uid=f"{issue.id}:{_ms(changed)}",
            event_code=issue.rule_id,
            profiles=["cloud"],
            labels=tags or None,
        ),
        "severity_id": _SEVERITY[issue.severity],
        "severity": _SEVERITY[issue.severity].name,
        "status_id": _STATUS[issue.status],
        "status": _STATUS[issue.status].name,
        "time": _ms(changed),
        "time_dt": changed,
        "finding_info": FindingInformation(
            uid=issue.id,
            title=title,
            desc=issue.message,
            analytic=Analytic(uid=issue.rule_id, name=title, type_id=_ANALYTIC_RULE, type="Rule"),
            created_time=_ms(issue.opened_at),
            created_time_dt=issue.opened_at,
            first_seen_time=_ms(issue.opened_at),
            first_seen_time_dt=issue.opened_at,
            last_seen_time=_ms(issue.last_seen),
            last_seen_time_dt=issue.last_seen,
            modified_time=_ms(changed),
            modified_time_dt=changed,
            types=["Network Reachability"],
        ),
        "resources": [
            ResourceDetails(
                uid=group_arn(issue),
                name=issue.group_name,
                type=RESOURCE_TYPE,
                region=issue.region,
                cloud_partition="aws",
                data={
                    "account_id": issue.account_id,
                    "account_name": account_name,
                    "group_id": issue.group_id,
                    "vpc_id": issue.vpc_id,
                    "key": issue.key,
                },
            )
        ],
        "unmapped": unmapped,
    }


def _cloud(issue: Issue, account_name: str | None) -> Cloud:
    account = OcsfAccount(
        uid=issue.account_id,
        name=account_name or issue.account_id,
        type_id=AccountTypeID.AWS_Account,
    )
    return Cloud(provider="AWS", region=issue.region, account=account)


def detection_finding(
    issue: Issue, title: str, tags: list[str], account_name: str | None = None
) -> DetectionFinding:
    common = _common(issue, title, tags, account_name)
    activity = common["activity_id"]
    assert isinstance(activity, ActivityID)
    return DetectionFinding(
        **common,
        cloud=_cloud(issue, account_name),
        type_uid=DetectionFindingTypeID(DetectionFindingTypeID.Unknown + activity.value),
        type_name=f"Detection Finding: {activity.name}",
    )


def compliance_finding(
    issue: Issue, title: str, tags: list[str], account_name: str | None = None
) -> ComplianceFinding:
    common = _common(issue, title, tags, account_name)
    activity = common["activity_id"]
    assert isinstance(activity, ActivityID)
    parsed = [p for p in (split_tag(tag) for tag in tags) if p is not None]
    standards = sorted({framework.name for framework, _ in parsed})
    status = _COMPLIANCE_STATUS[issue.status]
    return ComplianceFinding(
        **common,
        compliance=Compliance(
            standards=standards or None,
            requirements=tags or None,
            control=", ".join(f"{fw.id}:{control}" for fw, control in parsed) or None,
            desc=title,
            status_id=status,
        ),
        type_uid=ComplianceFindingTypeID(ComplianceFindingTypeID.Unknown + activity.value),
        type_name=f"Compliance Finding: {activity.name}",
    )


def finding(
    kind: FindingClass, issue: Issue, title: str, tags: list[str], account_name: str | None
) -> DetectionFinding | ComplianceFinding:
    build = detection_finding if kind == "detection" else compliance_finding
    return build(issue, title, tags, account_name)
