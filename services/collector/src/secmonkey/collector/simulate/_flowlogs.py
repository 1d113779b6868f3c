"""Flow logs for the simulated estate: a bucket per account, a flow log on every VPC, and
a few hours of records (moto writes none) so that `make run` shows rule usage: each
attached interface's first rule gets traffic, rules open to the world from three
documentation networks (a narrowing suggestion), and replies to ephemeral ports."""

from __future__ import annotations

import ipaddress
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from secmonkey.collector.simulate.flowlog_records import Flow, put_s3_flows

WORLD_SOURCES = ("198.51.100.23", "203.0.113.40", "192.0.2.77")


def flowlog_bucket(account_id: str) -> str:
    return f"secmonkey-sim-flowlogs-{account_id}"


def _source(cidr: str, rng: random.Random) -> str | None:
    network = ipaddress.ip_network(cidr, strict=False)
    if network.version != 4:
        return None
    if network.prefixlen == 0:
        return rng.choice(WORLD_SOURCES)
    if network.num_addresses <= 2:
        return str(network.network_address)
    return str(network[rng.randrange(1, network.num_addresses - 1)])


def region_flows(ec2: Any, account_id: str, rng: random.Random, now: datetime) -> list[Flow]:
    groups = {g["GroupId"]: g for g in ec2.describe_security_groups()["SecurityGroups"]}
    flows: list[Flow] = []
    for eni in ec2.describe_network_interfaces()["NetworkInterfaces"]:
        address = eni.get("PrivateIpAddress")
        if not address:
            continue
        for ref in eni.get("Groups", []):
            permissions = groups.get(ref["GroupId"], {}).get("IpPermissions", [])
            for permission in permissions[:1]:
                if permission.get("IpProtocol") != "tcp" or not permission.get("IpRanges"):
                    continue
                port = int(permission.get("FromPort", 0))
                for _ in range(rng.randrange(3, 12)):
                    source = _source(rng.choice(permission["IpRanges"])["CidrIp"], rng)
                    if source is None:
                        continue
                    at = now - timedelta(minutes=rng.randrange(5, 360))
                    flows.append(
                        Flow(
                            eni["NetworkInterfaceId"],
                            source,
                            address,
                            rng.randrange(32768, 61000),
                            port,
                            at,
                            flags=None,
                            account=account_id,
                        )
                    )
        at = now - timedelta(minutes=rng.randrange(5, 360))
        flows.append(
            Flow(
                eni["NetworkInterfaceId"],
                "203.0.113.99",
                address,
                443,
                rng.randrange(32768, 61000),
                at,
                flags=None,
                account=account_id,
            )
        )
    return sorted(flows, key=lambda f: f.at)


def fill_flow_logs(s3: Any, ec2_by_region: dict[str, Any], account_id: str, seed: int = 0) -> str:
    """Create the account's bucket and flow logs and write its records; the bucket."""
    bucket = flowlog_bucket(account_id)
    s3.create_bucket(Bucket=bucket)
    now = datetime.now(UTC).replace(microsecond=0)
    for region, ec2 in ec2_by_region.items():
        rng = random.Random(f"{seed}:{account_id}:{region}:flows")  # noqa: S311 - simulation
        vpcs = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]]
        ec2.create_flow_logs(
            ResourceIds=vpcs,
            ResourceType="VPC",
            TrafficType="ALL",
            LogDestinationType="s3",
            LogDestination=f"arn:aws:s3:::{bucket}",
        )
        flows = region_flows(ec2, account_id, rng, now)
        if flows:
            put_s3_flows(s3, bucket, flows, region=region)
    return bucket
