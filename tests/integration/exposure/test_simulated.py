"""The simulated estate of `make run` shows exposure: a reachable SSH port is critical,
RDP denied by the network ACL and the private instance are not reachable, and the load
balancer is reachable on its listener only."""

from __future__ import annotations

import pytest

from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.collector.reader import read_region
from secmonkey.collector.simulate import add_exposure_network, ec2_client, fill_estate
from secmonkey.collector.sweeper import snapshot_batches
from secmonkey.collector.topology import read_topology
from secmonkey.common.documents import issue_id
from secmonkey.common.item_keys import item_key
from secmonkey.common.storage import Database
from tests.support.servers import MotoServer

pytestmark = pytest.mark.integration
REGION = "us-east-1"


async def test_the_demo_estate_has_reachable_and_unreachable_endpoints(
    db: Database, moto: MotoServer, aws_env: None
) -> None:
    estate = fill_estate(moto.url, 1, [REGION], 3)
    [account] = estate.account_ids
    [made] = add_exposure_network(moto.url, [account], REGION)

    read = read_region(ec2_client(moto.url, account, REGION))
    read.topology = read_topology(
        lambda service: ec2_client(moto.url, account, REGION, service=service),
        account,
        REGION,
        read.observed_at,
        read.raw_groups,
        read.raw_interfaces,
    )
    auditor = Auditor(db, RulesConfig())
    for batch in snapshot_batches("demo", account, REGION, read, 200):
        await auditor.handle(batch)

    exposed = {
        (d["resource_id"], d["ports"]) async for d in db.exposures.find({"account_id": account})
    }
    assert exposed == {
        (made["web_instance"], "tcp/22"),
        (made["web_instance"], "tcp/443"),  # 3389: denied by the NACL
        (made["load_balancer"], "tcp/443"),  # 80 is open in the group, but no listener
    }
    key = item_key(account, REGION, made["web"])

    async def severity(rule_text: str) -> str:
        issue = await db.issues.find_one({"_id": issue_id(key, "internet-admin-port", rule_text)})
        assert issue is not None
        return str(issue["severity"])

    assert await severity("ingress tcp/22 from 0.0.0.0/0") == "critical"
    assert await severity("ingress tcp/3389 from 0.0.0.0/0") == "medium"
