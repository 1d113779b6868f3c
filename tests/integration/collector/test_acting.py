"""The monitored accounts share one botocore client per region and service, and each call
is signed as the account it was made for (moto answers as the account of the access key
that signed the request)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from secmonkey.collector.acting import AccountClient, NotActing
from secmonkey.collector.credentials import AwsClients
from secmonkey.collector.settings import Settings
from secmonkey.collector.simulate import EXTERNAL_ID, role_arn
from secmonkey.common.documents import Account
from tests.support.servers import MotoServer

pytestmark = pytest.mark.integration

ACCOUNTS = [
    Account(
        id=f"2109876543{n:02d}",
        name=f"a{n}",
        role_arn=role_arn(f"2109876543{n:02d}"),
        external_id=EXTERNAL_ID,
    )
    for n in range(6)
]


def test_accounts_share_a_client_and_each_call_signs_as_its_own_account(
    moto: MotoServer, aws_env: None
) -> None:
    clients = AwsClients(Settings(aws_endpoint_url=moto.url))
    stss = [clients.client(a, "sts", "us-east-1") for a in ACCOUNTS]
    assert all(isinstance(s, AccountClient) for s in stss)
    shared = {id(s._client) for s in stss}
    assert len(shared) == 1  # one botocore client for the region-service, not one per account

    # Calls of every account at once, on many threads: each answers as its own account.
    def whoami(n: int) -> tuple[str, str]:
        account = ACCOUNTS[n % len(ACCOUNTS)]
        return account.id, stss[n % len(ACCOUNTS)].get_caller_identity()["Account"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(whoami, range(60)))
    assert all(expected == answered for expected, answered in answers)
    assert {a for a, _ in answers} == {a.id for a in ACCOUNTS}

    # Each account's calls drew from its own pace (account-region-service).
    for account in ACCOUNTS:
        assert clients.pacer.pace(account.id, "us-east-1", "sts").calls == 10

    # The account's groups are its own through the shared EC2 client, paginators included.
    ec2 = [clients.client(a, "ec2", "eu-west-1") for a in ACCOUNTS[:2]]
    ec2[0].create_security_group(GroupName="only-in-first", Description="d")
    names = [
        {
            g["GroupName"]
            for page in client.get_paginator("describe_security_groups").paginate()
            for g in page["SecurityGroups"]
        }
        for client in ec2
    ]
    assert "only-in-first" in names[0] and "only-in-first" not in names[1]


def test_a_shared_client_called_without_an_account_is_refused(
    moto: MotoServer, aws_env: None
) -> None:
    clients = AwsClients(Settings(aws_endpoint_url=moto.url))
    acting = clients.client(ACCOUNTS[0], "ec2", "us-east-1")
    with pytest.raises(NotActing):
        acting._client.describe_vpcs()  # never signed with anything but an account's keys
    assert acting.describe_vpcs()["Vpcs"]


def test_renewed_credentials_replace_the_accounts_view_not_the_shared_client(
    moto: MotoServer, aws_env: None
) -> None:
    clients = AwsClients(
        Settings(
            aws_endpoint_url=moto.url,
            assume_role_seconds=900,
            credentials_refresh_margin_seconds=1000,  # every use assumes the role anew
        )
    )
    first = clients.client(ACCOUNTS[0], "ec2", "us-east-1")
    second = clients.client(ACCOUNTS[0], "ec2", "us-east-1")
    assert first is not second and first.access_key_id != second.access_key_id
    assert first._client is second._client
    assert second.describe_vpcs()["Vpcs"]
