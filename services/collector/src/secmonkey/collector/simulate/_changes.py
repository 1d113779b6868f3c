"""One random change to a simulated region, of the kinds the collector must notice."""

from __future__ import annotations

import random
from typing import Any

from botocore.exceptions import ClientError

from secmonkey.collector.simulate._templates import cidrs, tags, tcp

ADMIN_PORTS = (22, 3389, 5432, 3306, 6379, 9200)


def _simulated_groups(ec2: Any) -> list[dict[str, Any]]:
    return list(
        ec2.describe_security_groups(
            Filters=[{"Name": "tag:secmonkey-simulated", "Values": ["true"]}]
        )["SecurityGroups"]
    )


def _attached(ec2: Any, group_id: str) -> bool:
    found = ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [group_id]}])
    return bool(found["NetworkInterfaces"])


def random_change(ec2: Any, rng: random.Random) -> str:
    """Apply one change and say what it was (a rule already there becomes a new group)."""
    try:
        return _change(ec2, rng)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code.endswith(".NotFound"):
            # The group (or rule) went away since it was listed, e.g. an earlier change of
            # the same round deleted it: nothing to change, and the estate goes on.
            return f"skipped a change: {code}"
        if "Duplicate" not in code:
            raise
        return _create(ec2, rng, None)


def _create(ec2: Any, rng: random.Random, vpc: str | None) -> str:
    vpc = vpc or ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    name = f"adhoc-{rng.randrange(10**8):08d}"
    created = ec2.create_security_group(
        GroupName=name,
        Description="created by hand",
        VpcId=vpc,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": tags(rng, name)}],
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=created, IpPermissions=[tcp(rng.choice(ADMIN_PORTS), IpRanges=cidrs("0.0.0.0/0"))]
    )
    return f"created {created} ({name}) with an admin port open to the internet"


def _change(ec2: Any, rng: random.Random) -> str:
    groups = _simulated_groups(ec2)
    kind = rng.choice(["open", "open", "revoke", "widen", "retag", "create", "delete"])
    if not groups:
        kind = "create"
    group = rng.choice(groups) if groups else {}
    group_id = group.get("GroupId", "")
    if kind == "open":
        port = rng.choice(ADMIN_PORTS)
        ec2.authorize_security_group_ingress(
            GroupId=group_id,
            IpPermissions=[
                tcp(port, IpRanges=cidrs("0.0.0.0/0", description=f"opened {rng.randrange(10**6)}"))
            ],
        )
        return f"opened tcp/{port} to the internet on {group_id}"
    if kind == "revoke" and group.get("IpPermissions"):
        permission = rng.choice(group["IpPermissions"])
        ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[permission])
        return f"revoked a {permission.get('IpProtocol')} rule of {group_id}"
    if kind == "widen":
        cidr = f"{rng.choice([34, 52, 104, 185])}.{rng.randrange(256)}.0.0/16"
        ec2.authorize_security_group_ingress(
            GroupId=group_id, IpPermissions=[tcp(rng.choice([443, 8443]), IpRanges=cidrs(cidr))]
        )
        return f"allowed {cidr} into {group_id}"
    if kind == "retag":
        env = rng.choice(["prod", "staging", "dev", "sandbox"])
        ec2.create_tags(Resources=[group_id], Tags=[{"Key": "env", "Value": env}])
        return f"tagged {group_id} env={env}"
    if kind == "delete" and not _attached(ec2, group_id):
        ec2.delete_security_group(GroupId=group_id)
        return f"deleted {group_id} ({group.get('GroupName')})"
    return _create(ec2, rng, group.get("VpcId"))
