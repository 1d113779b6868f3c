"""The collector's AWS calls are paced per account-region-service: throttling answers
(botocore's Stubber) slow down only their own account-region; every real call (moto)
waits its turn under the ceiling; clients and credentials are reused."""

from __future__ import annotations

import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
    # Both regions' clients are instances of one class (built once per service), each with
    # its own hooks: the Stubber and the throttled pace stayed with the us-east-1 client.
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
    # the hub's own calls (the AssumeRole) are not held to the accounts' ceiling
    assert clients.pacer.pace("hub", "us-east-1", "sts").calls == 0


def test_pacing_can_be_switched_off(moto: MotoServer, aws_env: None) -> None:
    clients = AwsClients(Settings(aws_endpoint_url=moto.url, aws_pace_rate=0))
    slept: list[float] = []
    clients.pacer = Pacer(PaceConfig(rate=1, burst=1), clock=lambda: 0.0, sleep=slept.append)
    ec2 = clients.client(ACCOUNT, "ec2", "us-east-1")
    for _ in range(3):
        assert ec2.describe_vpcs()["Vpcs"]
    assert slept == []
    assert clients.pacer.pace(ACCOUNT.id, "us-east-1", "ec2").calls == 0


THROTTLED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
    b"<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
    b"</Error></Errors><RequestID>1</RequestID></Response>"
)


class ThrottlingProxy:
    """A loopback HTTP proxy in front of moto that answers EC2's 503 RequestLimitExceeded
    to the first `throttle` Describe requests and forwards everything else."""

    def __init__(self, upstream: str, throttle: int) -> None:
        self.upstream, self.throttle, self.requests = upstream, throttle, 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                describe = b"Action=Describe" in body
                proxy.requests += describe
                if describe and proxy.requests <= proxy.throttle:
                    status, answer = 503, THROTTLED
                else:
                    request = urllib.request.Request(  # noqa: S310 - loopback moto
                        proxy.upstream + self.path,
                        data=body,
                        headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                        method="POST",
                    )
                    with urllib.request.urlopen(request, timeout=30) as got:  # noqa: S310
                        status, answer = got.status, got.read()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_throttled_attempt_is_retried_at_the_slower_pace(moto: MotoServer, aws_env: None) -> None:
    proxy = ThrottlingProxy(moto.url, throttle=2)
    try:
        clients = AwsClients(Settings(aws_endpoint_url=proxy.url))
        slept: list[float] = []
        now = [0.0]

        def sleep(seconds: float) -> None:  # the pace's time moves only when it waits
            slept.append(seconds)
            now[0] += seconds

        clients.pacer = Pacer(PaceConfig(rate=10, burst=1), clock=lambda: now[0], sleep=sleep)
        ec2 = clients.client(ACCOUNT, "ec2", "us-east-1")  # AssumeRole through the proxy
        assert ec2.describe_vpcs()["Vpcs"]  # two throttled attempts, then moto's answer
        pace = clients.pacer.pace(ACCOUNT.id, "us-east-1", "ec2")
        assert proxy.requests == 3
        assert pace.throttled_answers == 2
        assert pace.calls == 3  # the call, and each retried attempt, took a token
        # 10/s halved twice (2.5/s), then the answer added 0.5/s back
        assert pace.rate == 3.0
        # the retries waited for their tokens at the lowered rates (1/5 s, then 1/2.5 s)
        assert slept == pytest.approx([0.2, 0.4])
    finally:
        proxy.close()
