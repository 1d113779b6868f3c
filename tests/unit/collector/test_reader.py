"""Reading a region: NextToken chains followed to the end, attachments summarised.

moto does not paginate, so the page chain is served by botocore's Stubber on a real
botocore EC2 client (request validation against the real API model included).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from secmonkey.collector.reader import (
    PAGE_SIZE,
    IncompleteRead,
    attachments_by_group,
    enabled_regions,
    pages,
    read_region,
)

OWNER = "111111111111"


def ec2() -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("ec2", region_name="us-east-1")


def group(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "GroupId": f"sg-{n:08x}",
        "GroupName": f"g{n}",
        "Description": "d",
        "OwnerId": OWNER,
        "VpcId": "vpc-1",
        "IpPermissions": [
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
        "IpPermissionsEgress": [],
        **extra,
    }


def test_a_three_page_chain_is_followed_with_max_results_and_every_token() -> None:
    client = ec2()
    stub = Stubber(client)
    stub.add_response(
        "describe_security_groups",
        {"SecurityGroups": [group(1), group(2)], "NextToken": "page-2"},
        {"MaxResults": PAGE_SIZE},
    )
    stub.add_response(
        "describe_security_groups",
        {"SecurityGroups": [group(3)], "NextToken": "page-3"},
        {"MaxResults": PAGE_SIZE, "NextToken": "page-2"},
    )
    stub.add_response(
        "describe_security_groups",
        {"SecurityGroups": [group(4)]},
        {"MaxResults": PAGE_SIZE, "NextToken": "page-3"},
    )
    stub.add_response(
        "describe_network_interfaces",
        {
            "NetworkInterfaces": [
                {
                    "NetworkInterfaceId": "eni-1",
                    "InterfaceType": "interface",
                    "Groups": [{"GroupId": "sg-00000003", "GroupName": "g3"}],
                    "Attachment": {"InstanceId": "i-1"},
                    "Association": {"PublicIp": "54.1.2.3"},
                }
            ],
            "NextToken": "eni-2",
        },
        {"MaxResults": PAGE_SIZE},
    )
    stub.add_response(
        "describe_network_interfaces",
        {
            "NetworkInterfaces": [
                {
                    "NetworkInterfaceId": "eni-2",
                    "InterfaceType": "lambda",
                    "Groups": [{"GroupId": "sg-00000003"}, {"GroupId": "sg-00000004"}],
                }
            ]
        },
        {"MaxResults": PAGE_SIZE, "NextToken": "eni-2"},
    )
    stub.add_response(
        "describe_vpcs",
        {
            "Vpcs": [
                {
                    "VpcId": "vpc-1",
                    "IsDefault": True,
                    "CidrBlock": "172.31.0.0/16",
                    "CidrBlockAssociationSet": [
                        {"CidrBlock": "172.31.0.0/16", "CidrBlockState": {"State": "associated"}},
                        {
                            "CidrBlock": "100.64.0.0/16",
                            "CidrBlockState": {"State": "disassociated"},
                        },
                    ],
                }
            ]
        },
        {"MaxResults": PAGE_SIZE},
    )
    with stub:
        read = read_region(client)
        stub.assert_no_pending_responses()

    assert [g.config.group_id for g in read.groups] == [f"sg-{n:08x}" for n in (1, 2, 3, 4)]
    by_id = {g.config.group_id: g for g in read.groups}
    three = by_id["sg-00000003"].attachments
    assert (three.interface_count, three.interface_types) == (2, ["interface", "lambda"])
    assert (three.instance_ids, three.public_ip) == (["i-1"], True)
    four = by_id["sg-00000004"].attachments
    assert (four.interface_count, four.public_ip, four.instance_ids) == (1, False, [])
    assert not by_id["sg-00000001"].attachments.attached
    assert read.vpcs["vpc-1"].is_default and read.vpcs["vpc-1"].cidrs == ["172.31.0.0/16"]


def test_a_chain_that_repeats_a_token_is_refused_not_looped_forever() -> None:
    client = ec2()
    stub = Stubber(client)
    stub.add_response(
        "describe_security_groups", {"SecurityGroups": [group(1)], "NextToken": "again"}
    )
    stub.add_response(
        "describe_security_groups", {"SecurityGroups": [group(2)], "NextToken": "again"}
    )
    with stub, pytest.raises(IncompleteRead, match="came back twice"):
        list(pages(client.describe_security_groups, "SecurityGroups"))


def test_an_error_on_a_later_page_fails_the_read_instead_of_returning_the_first_pages() -> None:
    client = ec2()
    stub = Stubber(client)
    stub.add_response(
        "describe_security_groups", {"SecurityGroups": [group(1)], "NextToken": "page-2"}
    )
    stub.add_client_error(
        "describe_security_groups", service_error_code="RequestLimitExceeded", http_status_code=503
    )
    with stub, pytest.raises(Exception, match="RequestLimitExceeded"):
        read_region(client)


def test_a_group_that_cannot_be_made_canonical_makes_the_read_incomplete() -> None:
    client = ec2()
    stub = Stubber(client)
    broken = group(9)
    broken["IpPermissions"][0]["IpRanges"] = [{"CidrIp": "10.0.0.300/8"}]
    stub.add_response("describe_security_groups", {"SecurityGroups": [group(1), broken]})
    stub.add_response("describe_network_interfaces", {"NetworkInterfaces": []})
    stub.add_response("describe_vpcs", {"Vpcs": []})
    with stub, pytest.raises(IncompleteRead, match="sg-00000009"):
        read_region(client)


def test_page_size_none_sends_no_max_results() -> None:
    client = ec2()
    stub = Stubber(client)
    stub.add_response(
        "describe_security_groups", {"SecurityGroups": [group(1)]}, {"GroupIds": ["sg-00000001"]}
    )
    with stub:
        found = list(
            pages(
                client.describe_security_groups,
                "SecurityGroups",
                page_size=None,
                GroupIds=["sg-00000001"],
            )
        )
    assert [g["GroupId"] for g in found] == ["sg-00000001"]


def test_enabled_regions_leave_out_opt_in_regions_not_opted_in() -> None:
    client = ec2()
    stub = Stubber(client)
    stub.add_response(
        "describe_regions",
        {
            "Regions": [
                {"RegionName": "us-east-1", "OptInStatus": "opt-in-not-required"},
                {"RegionName": "af-south-1", "OptInStatus": "not-opted-in"},
                {"RegionName": "ap-east-1", "OptInStatus": "opted-in"},
            ]
        },
        {"AllRegions": False},
    )
    with stub:
        assert enabled_regions(client) == ["ap-east-1", "us-east-1"]


def test_attachments_ignore_interfaces_without_groups() -> None:
    summary = attachments_by_group([{"NetworkInterfaceId": "eni-1", "Groups": []}, {}])
    assert summary == {}
