"""Assumed credentials are cached, and assumed again before they expire."""

from __future__ import annotations

import pytest

from secmonkey.collector.credentials import AwsClients, AwsError
from secmonkey.collector.settings import Settings
from secmonkey.collector.simulate import EXTERNAL_ID, role_arn
from secmonkey.common.documents import Account
from tests.support.servers import MotoServer

pytestmark = pytest.mark.integration

ACCOUNT = Account(
    id="210987654321", name="a", role_arn=role_arn("210987654321"), external_id=EXTERNAL_ID
)


def test_credentials_are_reused_until_close_to_expiry(moto: MotoServer, aws_env: None) -> None:
    cached = AwsClients(Settings(aws_endpoint_url=moto.url, assume_role_seconds=900))
    first = cached.credentials(ACCOUNT)
    assert first is not None and cached.credentials(ACCOUNT) is first
    # The same client serves every sweep while the credentials hold.
    assert cached.client(ACCOUNT, "ec2", "us-east-1") is cached.client(ACCOUNT, "ec2", "us-east-1")

    # A refresh margin longer than the credentials' life: every use assumes the role anew.
    eager = AwsClients(
        Settings(
            aws_endpoint_url=moto.url,
            assume_role_seconds=900,
            credentials_refresh_margin_seconds=1000,
        )
    )
    one, two = eager.credentials(ACCOUNT), eager.credentials(ACCOUNT)
    assert one is not None and two is not None
    assert one.access_key_id != two.access_key_id
    # ...and the acting identity is the monitored account itself.
    sts = eager.client(ACCOUNT, "sts", "us-east-1")
    assert sts.get_caller_identity()["Account"] == ACCOUNT.id


def test_an_account_without_a_role_is_read_only_with_the_hubs_own_credentials(
    moto: MotoServer, aws_env: None
) -> None:
    clients = AwsClients(Settings(aws_endpoint_url=moto.url))
    hub = clients.hub_account_id()
    assert clients.credentials(Account(id=hub, name="hub")) is None
    with pytest.raises(AwsError) as refused:
        clients.credentials(Account(id="210987654321", name="elsewhere"))
    assert refused.value.code == "NoRoleConfigured"
    assert hub in str(refused.value)
