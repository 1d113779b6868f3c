"""The change-control team hears of reviews like any other alert: by email and by webhook
into their ticketing system, routed by subscription filters on `change.*`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from secmonkey.common.change_reviews import ChangeReview, review_event
from secmonkey.common.documents import Account, Channel
from secmonkey.common.messages import Caller
from tests.integration.notifier.conftest import ACCOUNT, subscription, until
from tests.support.servers import HttpReceiver, SmtpSink

pytestmark = pytest.mark.integration

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def review(status: str, seq: int) -> ChangeReview:
    return ChangeReview(
        id=f"aws:{ACCOUNT}:us-east-1:sg-pci:{seq}",
        key=f"aws:{ACCOUNT}:us-east-1:sg-pci",
        seq=seq,
        account_id=ACCOUNT,
        account_name="prod",
        region="us-east-1",
        vpc_id="vpc-1",
        group_id="sg-pci",
        name="cardholder-web",
        change_type="changed",
        changes=["+ ingress tcp/22 from 0.0.0.0/0"],
        scopes=["pci"],
        observed_at=AT,
        created_at=AT,
        deadline=datetime(2026, 3, 2, 12, 0, tzinfo=UTC),
        callers=[
            Caller(
                event_id="ct-1",
                event_name="AuthorizeSecurityGroupIngress",
                arn="arn:aws:sts::1:assumed-role/Admin/bob",
            )
        ],
        changed_by="arn:aws:sts::1:assumed-role/Admin/bob",
        status=status,  # type: ignore[arg-type]
        reviewer="change-board" if status != "pending" else None,
        comment="no ticket" if status == "rejected" else None,
    )


async def test_change_events_reach_the_change_control_team_by_email_and_webhook(
    start_notifier: Any, http_receiver: HttpReceiver, smtp_sink: SmtpSink
) -> None:
    team = subscription(Channel(type="email", to=["cab@example.com"]), event_types=["change.*"])
    ticketing = subscription(
        Channel(type="generic", url=f"{http_receiver.url}/itsm", secret="k"),
        event_types=["change.rejected", "change.overdue"],
        min_severity="high",
    )
    pending = review_event(review("pending", 2), "change.pending", AT)
    rejected = review_event(review("rejected", 3), "change.rejected", AT)
    accounts = [Account(id=ACCOUNT, name="prod", labels=["pci"])]
    async with start_notifier(
        [team, ticketing], accounts, smtp_host=smtp_sink.host, smtp_port=smtp_sink.port
    ) as h:
        await h.publish(pending, rejected)
        assert await until(lambda: len(smtp_sink.messages) >= 2)
        assert await until(lambda: len(http_receiver.received) >= 1)

    subjects = sorted(" ".join(m["Subject"].split()) for m in smtp_sink.messages)
    assert subjects == [
        "[secmonkey] REVIEW NEEDED [pci]: cardholder-web (prod, us-east-1): "
        "+ ingress tcp/22 from 0.0.0.0/0",
        "[secmonkey] UNAUTHORIZED CHANGE [pci]: cardholder-web (prod, us-east-1): "
        "+ ingress tcp/22 from 0.0.0.0/0",
    ]
    [hook] = http_receiver.received
    body = hook.json()
    assert body["id"] == rejected.event_id and body["type"] == "io.secmonkey.change.rejected"
    assert body["data"]["change"]["reviewer"] == "change-board"
