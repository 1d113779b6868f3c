"""A simulated AWS estate in a moto server, for demos, tests and benchmarks.

`fill_estate` creates N accounts × regions × groups with the rules real estates have
(admin ports open to the world, IPv6, same-account and cross-account group references,
prefix lists, large port ranges, broad CIDRs, a default group with rules, attached and
unattached groups, some with public IPs). `apply_changes` then makes random changes the
collector should notice. moto switches accounts by the account ID of an assumed role, so
every account is reached as `arn:aws:iam::<account>:role/secmonkey-monitor`.
"""

from __future__ import annotations

import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml
from botocore.config import Config

from secmonkey.collector.simulate._templates import Context, cidrs, pick, tags, tcp

HUB_ACCOUNT = "123456789012"  # moto's default account: the collector's own credentials
ROLE_NAME = "secmonkey-monitor"
EXTERNAL_ID = "secmonkey-simulated-estate"
UNKNOWN_ACCOUNT = "999988887777"
DEFAULT_REGIONS = ("us-east-1", "eu-west-1")
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32)


def simulated_account_ids(count: int, first: int = 1) -> list[str]:
    """Stable account IDs for `count` simulated accounts: 210000000001, 210000000002, ..."""
    return [f"21{n:010d}" for n in range(first, first + count)]


def role_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{ROLE_NAME}"


@dataclass
class Estate:
    """What `fill_estate` created: where, and every group ID per (account, region)."""

    endpoint_url: str
    account_ids: list[str]
    regions: list[str]
    external_id: str = EXTERNAL_ID
    groups: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    flow_log_buckets: dict[str, str] = field(default_factory=dict)

    @property
    def group_count(self) -> int:
        return sum(len(v) for v in self.groups.values())

    def account_entries(self) -> list[dict[str, Any]]:
        """The accounts as the collector's accounts file (and `accounts` documents) want them."""
        return [
            {
                "id": a,
                "name": f"simulated-{n + 1}",
                "role_arn": role_arn(a),
                "external_id": self.external_id,
                "regions": list(self.regions),
                "labels": ["simulated"] + (["pci"] if n == 0 else []),
                **(
                    {"flow_logs": [{"kind": "s3", "bucket": self.flow_log_buckets[a]}]}
                    if a in self.flow_log_buckets
                    else {}
                ),
            }
            for n, a in enumerate(self.account_ids)
        ]

    def write_accounts_file(self, path: Path) -> None:
        path.write_text(yaml.safe_dump({"accounts": self.account_entries()}, sort_keys=False))


_lock = threading.Lock()
_shared: list[boto3.session.Session] = []


def _client(service: str, endpoint_url: str, region: str, **credentials: str) -> Any:
    # One session for every client: a new session re-reads botocore's models (slow), and
    # sessions are not thread-safe, so clients are made under a lock.
    with _lock:
        if not _shared:
            _shared.append(boto3.session.Session())
        return _shared[0].client(
            service,
            endpoint_url=endpoint_url,
            region_name=region,
            config=_CONFIG,
            **credentials,
        )


def _credentials(endpoint_url: str, account_id: str, external_id: str) -> dict[str, str]:
    sts = _client("sts", endpoint_url, "us-east-1")
    creds = sts.assume_role(
        RoleArn=role_arn(account_id), RoleSessionName="secmonkey-simulator", ExternalId=external_id
    )["Credentials"]
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }


def ec2_client(
    endpoint_url: str,
    account_id: str,
    region: str,
    external_id: str = EXTERNAL_ID,
    service: str = "ec2",
) -> Any:
    """An EC2 (or `service`) client acting in a simulated account."""
    return _client(
        service, endpoint_url, region, **_credentials(endpoint_url, account_id, external_id)
    )


def add_exposure_network(
    endpoint_url: str, account_ids: list[str], region: str, external_id: str = EXTERNAL_ID
) -> list[dict[str, str]]:
    """Public and private subnets, an internet gateway, a NACL and a load balancer in
    `region` of each account (`_network`), so the demo shows exposure."""
    from secmonkey.collector.simulate._network import add_network

    return [
        add_network(
            ec2_client(endpoint_url, a, region, external_id),
            ec2_client(endpoint_url, a, region, external_id, "elbv2"),
            region,
        )
        for a in account_ids
    ]


def create_monitor_role(
    endpoint_url: str, account_id: str, external_id: str = EXTERNAL_ID, hub: str = HUB_ACCOUNT
) -> None:
    """The role deploy/iam describes: trusted by the hub with the ExternalId, read-only."""
    credentials = _credentials(endpoint_url, account_id, external_id)
    iam = _client("iam", endpoint_url, "us-east-1", **credentials)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{hub}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ],
    }
    iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(
        RoleName=ROLE_NAME,
        PolicyName="secmonkey-read-only",
        PolicyDocument=json.dumps(read_only_policy()),
    )


def read_only_policy() -> dict[str, Any]:
    """The policy of deploy/iam/secmonkey-readonly-policy.json (kept in step by a test)."""
    from secmonkey.collector.reader import OPERATIONS
    from secmonkey.collector.topology import OPERATIONS as TOPOLOGY_OPERATIONS

    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SecmonkeyReadSecurityGroups",
                "Effect": "Allow",
                "Action": sorted(f"ec2:{op}" for op in OPERATIONS),
                "Resource": "*",
            },
            {
                "Sid": "SecmonkeyReadExposure",
                "Effect": "Allow",
                "Action": sorted(
                    f"{service}:{op}" for service, ops in TOPOLOGY_OPERATIONS.items() for op in ops
                ),
                "Resource": "*",
            },
        ],
    }


def _fill_region(
    ec2: Any, account_id: str, peer: str, groups: int, rng: random.Random, attach_share: float
) -> list[str]:
    default_vpc = next(v for v in ec2.describe_vpcs()["Vpcs"] if v.get("IsDefault"))["VpcId"]
    in_default_vpc = [{"Name": "vpc-id", "Values": [default_vpc]}]
    default_subnet = ec2.describe_subnets(Filters=in_default_vpc)["Subnets"][0]["SubnetId"]
    second_octet = rng.randrange(1, 250)
    app_vpc = ec2.create_vpc(
        CidrBlock=f"10.{second_octet}.0.0/16", AmazonProvidedIpv6CidrBlock=True
    )["Vpc"]["VpcId"]
    app_subnet = ec2.create_subnet(VpcId=app_vpc, CidrBlock=f"10.{second_octet}.1.0/24")["Subnet"][
        "SubnetId"
    ]
    prefix_list = ec2.create_managed_prefix_list(
        PrefixListName="corp-offices",
        MaxEntries=5,
        AddressFamily="IPv4",
        Entries=[{"Cidr": "192.0.2.0/24", "Description": "HQ"}],
    )["PrefixList"]["PrefixListId"]
    # The default group with an open rule: a CIS finding in every simulated region.
    named_default = [*in_default_vpc, {"Name": "group-name", "Values": ["default"]}]
    default_group = ec2.describe_security_groups(Filters=named_default)["SecurityGroups"][0]
    ec2.authorize_security_group_ingress(
        GroupId=default_group["GroupId"], IpPermissions=[tcp(22, IpRanges=cidrs("0.0.0.0/0"))]
    )
    created: list[str] = []
    by_vpc: dict[str, list[str]] = {default_vpc: [], app_vpc: []}
    for n in range(groups):
        vpc, subnet = (app_vpc, app_subnet) if n % 3 else (default_vpc, default_subnet)
        name, build = pick(rng, n)
        group_name = f"{name}-{n:04d}"
        group_id = ec2.create_security_group(
            GroupName=group_name,
            Description=f"{name} tier",
            VpcId=vpc,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": tags(rng, group_name)}],
        )["GroupId"]
        context = Context(
            account_id=account_id,
            peer_account=peer,
            unknown_account=UNKNOWN_ACCOUNT,
            prefix_list=prefix_list,
            same_vpc_group=rng.choice(by_vpc[vpc]) if by_vpc[vpc] else None,
            rng=rng,
        )
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=build(context))
        if rng.random() < 0.1:
            # Restricted egress instead of AWS's default allow-all.
            allow_all = {"IpProtocol": "-1", "IpRanges": cidrs("0.0.0.0/0")}
            ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=[allow_all])
            ec2.authorize_security_group_egress(
                GroupId=group_id, IpPermissions=[tcp(443, IpRanges=cidrs("0.0.0.0/0"))]
            )
        if rng.random() < attach_share:
            eni = ec2.create_network_interface(SubnetId=subnet, Groups=[group_id])
            if vpc == default_vpc and rng.random() < 0.3:
                allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
                ec2.associate_address(
                    AllocationId=allocation,
                    NetworkInterfaceId=eni["NetworkInterface"]["NetworkInterfaceId"],
                )
        by_vpc[vpc].append(group_id)
        created.append(group_id)
    if groups:
        # One instance, so some attachments carry an instance ID.
        ec2.run_instances(
            ImageId="ami-12c6146b",
            MinCount=1,
            MaxCount=1,
            SubnetId=default_subnet,
            SecurityGroupIds=[created[0]],
        )
    return created


def fill_estate(
    endpoint_url: str,
    accounts: int | list[str] = 2,
    regions: list[str] | tuple[str, ...] = DEFAULT_REGIONS,
    groups_per_region: int = 20,
    *,
    seed: int = 0,
    external_id: str = EXTERNAL_ID,
    attach_share: float = 0.4,
    create_roles: bool = True,
    workers: int = 4,
) -> Estate:
    """Create the estate: `groups_per_region` groups (plus each VPC's default) per region."""
    account_ids = simulated_account_ids(accounts) if isinstance(accounts, int) else list(accounts)
    estate = Estate(endpoint_url, account_ids, list(regions), external_id)
    if create_roles:
        for account_id in account_ids:
            create_monitor_role(endpoint_url, account_id, external_id)
    jobs = [(a, r) for a in account_ids for r in regions]

    def one(job: tuple[str, str]) -> list[str]:
        account_id, region = job
        peers = [a for a in account_ids if a != account_id] or [UNKNOWN_ACCOUNT]
        rng = random.Random(f"{seed}:{account_id}:{region}")  # noqa: S311 - simulation
        ec2 = ec2_client(endpoint_url, account_id, region, external_id)
        return _fill_region(ec2, account_id, peers[0], groups_per_region, rng, attach_share)

    with ThreadPoolExecutor(max(1, workers)) as pool:
        for job, created in zip(jobs, pool.map(one, jobs), strict=True):
            estate.groups[job] = created
    return estate


def add_flow_logs(estate: Estate, seed: int = 0) -> int:
    """Flow logs and a few hours of records in every simulated account (see _flowlogs)."""
    from secmonkey.collector.simulate._flowlogs import fill_flow_logs

    for account_id in estate.account_ids:
        creds = _credentials(estate.endpoint_url, account_id, estate.external_id)
        s3 = _client("s3", estate.endpoint_url, "us-east-1", **creds)
        ec2s = {r: _client("ec2", estate.endpoint_url, r, **creds) for r in estate.regions}
        estate.flow_log_buckets[account_id] = fill_flow_logs(s3, ec2s, account_id, seed)
    return len(estate.flow_log_buckets)


def apply_changes(
    endpoint_url: str,
    account_ids: list[str],
    regions: list[str] | tuple[str, ...],
    changes: int,
    *,
    seed: int | None = None,
    external_id: str = EXTERNAL_ID,
) -> list[str]:
    """Make `changes` random changes (rules opened or revoked, tags, groups created or
    deleted); returns one line per change."""
    from secmonkey.collector.simulate._changes import random_change

    rng = random.Random(seed)  # noqa: S311 - simulation, not secrets
    done: list[str] = []
    clients: dict[tuple[str, str], Any] = {}
    for _ in range(changes):
        account_id, region = rng.choice(account_ids), rng.choice(list(regions))
        key = (account_id, region)
        if key not in clients:
            clients[key] = ec2_client(endpoint_url, account_id, region, external_id)
        done.append(f"{account_id}/{region}: {random_change(clients[key], rng)}")
    return done
