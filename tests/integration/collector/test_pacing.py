"""The collector's AWS calls are paced per account-region-service: throttling answers
(botocore's Stubber) slow down only their own account-region; every real call (moto)
waits its turn under the ceiling; clients and credentials are reused."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from secmonkey.collector.credentials import AwsClients, aws_error
from secmonkey.collector.pacing import PaceConfig, Pacer
from secmonkey.collector.settings import Settings
from secmonkey.collector.simulate import EXTERNAL_ID, role_arn
from secmonkey.common.documents import Account
from tests.support.servers import MotoServer

pytestmark = pytest.mark.integration

ACCOUNT = Account(
    id="210987654321", name="a", role_arn=role_arn("210987654321"), external_id=EXTERNAL_ID
)


def test_throttling_slows_down_that_account_region_only(moto: MotoServer, aws_env: None) -> None:
    clients = AwsClients(Settings(aws_endpoint_url=moto.url))
    ec2 = clients.client(ACCOUNT, "ec2", "us-east-1")  # AssumeRole on moto
    with Stubber(ec2) as stub:
        for _ in range(2):
            stub.add_client_error(
                "describe_security_groups",
                service_error_code="RequestLimitExceeded",
                service_message="Request limit exceeded.",
                http_status_code=503,
            )
        stub.add_response("describe_security_groups", {"SecurityGroups": []})
        for _ in range(2):
            with pytest.raises(ClientError) as refused:
                ec2.describe_security_groups()
            assert aws_error(refused.value).code == "RequestLimitExceeded"
        pace = clients.pacer.pace(ACCOUNT.id, "us-east-1", "ec2")
        assert pace.rate == 2.5  # the default ceiling of 10/s, halved twice
        assert pace.throttled_answers == 2
        assert ec2.describe_security_groups()["SecurityGroups"] == []
        assert pace.rate == 3.0  # an answer adds 0.5/s back
        stub.assert_no_pending_responses()

    # Another region of the same account is another EC2 bucket: its pace is untouched.
    eu = clients.client(ACCOUNT, "ec2", "eu-west-1")
    assert eu.describe_vpcs()["Vpcs"]
    other = clients.pacer.pace(ACCOUNT.id, "eu-west-1", "ec2")
    assert other.rate == 10.0 and other.throttled_answers == 0 and other.calls == 1
    # Both clients are instances of one class (built once per service), each with its own
    # hooks: the Stubber and the throttled pace stayed with the us-east-1 client.
    assert type(eu) is type(ec2) and eu.meta.events is not ec2.meta.events


def test_every_call_waits_its_turn_under_the_ceiling(moto: MotoServer, aws_env: None) -> None:
    clients = AwsClients(Settings(aws_endpoint_url=moto.url))
    slept: list[float] = []
    # A clock that stands still: each call beyond the burst owes 1/rate more than the last.
    clients.pacer = Pacer(PaceConfig(rate=5, burst=2), clock=lambda: 0.0, sleep=slept.append)
    ec2 = clients.client(ACCOUNT, "ec2", "us-east-1")
    for _ in range(4):
        assert ec2.describe_vpcs()["Vpcs"]
    assert slept == pytest.approx([0.2, 0.4])
    # One client (and one pace) per account-region-service, reused by every later sweep;
    # the credentials are assumed once.
    assert clients.client(ACCOUNT, "ec2", "us-east-1") is ec2
    assert clients.pacer.pace(ACCOUNT.id, "us-east-1", "ec2").calls == 4
    assert clients.pacer.pace("hub", "us-east-1", "sts").calls == 1  # the one AssumeRole


def test_pacing_can_be_switched_off(moto: MotoServer, aws_env: None) -> None:
    clients = AwsClients(Settings(aws_endpoint_url=moto.url, aws_pace_rate=0))
    slept: list[float] = []
    clients.pacer = Pacer(PaceConfig(rate=1, burst=1), clock=lambda: 0.0, sleep=slept.append)
    ec2 = clients.client(ACCOUNT, "ec2", "us-east-1")
    for _ in range(3):
        assert ec2.describe_vpcs()["Vpcs"]
    assert slept == []
    assert clients.pacer.pace(ACCOUNT.id, "us-east-1", "ec2").calls == 0
