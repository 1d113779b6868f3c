"""The Security Hub export's pure parts: each issue state as ASFF (what an analyst sees in
Security Hub), and batching many messages into calls of at most 100 findings."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from secmonkey.collector.credentials import AwsError
from secmonkey.collector.securityhub.asff import to_asff
from secmonkey.collector.securityhub.batches import Batcher
from secmonkey.collector.securityhub.export import classify
from secmonkey.common.errors import PermanentError, TransientError

AT = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)


def issue(status: str, **more: Any) -> dict[str, Any]:
    return {
        "_id": "abc123",
        "account_id": "111111111111",
        "region": "eu-west-1",
        "group_id": "sg-0123456789abcdef0",
        "group_name": "web",
        "vpc_id": "vpc-1",
        "rule_id": "internet-admin-port",
        "rule_text": "ingress tcp/22 from 0.0.0.0/0",
        "severity": "high",
        "message": "SSH open to the internet",
        "status": status,
        "opened_at": AT,
        "last_seen": AT,
        **more,
    }


@pytest.mark.parametrize(
    ("status", "workflow", "compliance", "record"),
    [
        ("open", "NEW", "FAILED", "ACTIVE"),
        ("justified", "SUPPRESSED", "FAILED", "ACTIVE"),
        ("fixed", "RESOLVED", "PASSED", "ACTIVE"),
        ("deleted", "RESOLVED", "NOT_AVAILABLE", "ARCHIVED"),
    ],
)
def test_each_issue_state_is_a_security_hub_state(
    status: str, workflow: str, compliance: str, record: str
) -> None:
    found = to_asff(
        issue(status), region="us-east-1", title="Admin port", tags=["PCI DSS 4.0 1.3.1"], now=AT
    )
    assert found["Workflow"] == {"Status": workflow}
    assert found["Compliance"]["Status"] == compliance
    assert found["RecordState"] == record
    assert found["Id"] == "secmonkey/abc123"
    assert (
        found["ProductArn"]
        == "arn:aws:securityhub:us-east-1:111111111111:product/111111111111/default"
    )
    resource = found["Resources"][0]
    assert resource["Region"] == "eu-west-1"  # the group's, while the import goes to us-east-1
    assert (
        resource["Id"] == "arn:aws:ec2:eu-west-1:111111111111:security-group/sg-0123456789abcdef0"
    )
    assert found["UpdatedAt"] == "2026-06-01T12:00:00.123Z"
    assert found["Severity"] == {"Label": "HIGH", "Original": "high"}
    assert found["Compliance"]["RelatedRequirements"] == ["PCI DSS 4.0 1.3.1"]


def test_every_finding_of_a_deleted_group_is_archived() -> None:
    fixed = to_asff(
        issue("fixed"), region="eu-west-1", title="t", tags=[], now=AT, group_deleted=True
    )
    assert fixed["RecordState"] == "ARCHIVED" and fixed["Workflow"]["Status"] == "RESOLVED"


def test_long_text_is_cut_to_security_hubs_limits() -> None:
    found = to_asff(
        issue("open", message="x" * 5000, group_name="g" * 400, severity="critical"),
        region="eu-west-1", title="t", tags=[f"tag {n}" for n in range(40)], now=AT,
    )  # fmt: skip
    assert len(found["Description"]) == 1024 and len(found["Title"]) == 256
    assert len(found["Compliance"]["RelatedRequirements"]) == 32
    assert found["Severity"]["Label"] == "CRITICAL"


async def test_many_messages_share_calls_of_at_most_100_and_each_waits_for_its_own() -> None:
    calls: list[tuple[str, str, list[str]]] = []

    async def send(account: str, region: str, ids: list[str]) -> dict[str, str]:
        calls.append((account, region, ids))
        return {"bad-1": "InvalidInput: no"} if "bad-1" in ids else {}

    batcher = Batcher(send, linger=0.05)
    ids = [f"i-{n}" for n in range(150)]
    await asyncio.gather(
        *(batcher.submit("111111111111", "eu-west-1", [i]) for i in ids),
        batcher.submit("222222222222", "eu-west-1", ["j-1", "j-2"]),
    )
    mine = [c for c in calls if c[0] == "111111111111"]
    assert [len(c[2]) for c in mine] == [100, 50]
    assert sorted(i for c in mine for i in c[2]) == sorted(ids)
    assert [c[2] for c in calls if c[0] == "222222222222"] == [["j-1", "j-2"]]

    good = batcher.submit("111111111111", "eu-west-1", ["ok-1"])
    bad = batcher.submit("111111111111", "eu-west-1", ["bad-1"])
    results = await asyncio.gather(good, bad, return_exceptions=True)
    assert results[0] is None
    assert isinstance(results[1], PermanentError) and "bad-1: InvalidInput" in str(results[1])
    await batcher.close()


async def test_a_failed_call_fails_every_message_in_it_the_same_way() -> None:
    async def send(account: str, region: str, ids: list[str]) -> dict[str, str]:
        raise TransientError("throttled")

    batcher = Batcher(send, linger=0.01)
    results = await asyncio.gather(
        batcher.submit("1", "r", ["a"]), batcher.submit("1", "r", ["b"]), return_exceptions=True
    )
    assert all(isinstance(r, TransientError) for r in results)
    await batcher.close()


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "BatchImportFindings",
    )


def test_throttling_and_outages_are_retried_and_refusals_are_not() -> None:
    assert isinstance(classify(_client_error("TooManyRequestsException", 429), "x"), TransientError)
    assert isinstance(classify(_client_error("InternalException", 500), "x"), TransientError)
    assert isinstance(
        classify(EndpointConnectionError(endpoint_url="https://x"), "x"), TransientError
    )
    denied = classify(_client_error("AccessDeniedException", 403), "BatchImportFindings in 1")
    assert isinstance(denied, PermanentError) and "AccessDeniedException" in str(denied)
    not_enabled = classify(_client_error("InvalidAccessException", 401), "x")
    assert isinstance(not_enabled, PermanentError)
    assumed = classify(AwsError("AccessDenied", "AssumeRole arn:…"), "x")
    assert isinstance(assumed, PermanentError) and "AssumeRole" in str(assumed)
