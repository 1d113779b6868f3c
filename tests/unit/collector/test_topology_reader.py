"""Reading the topology: every list call followed through its own kind of page chain
(NextToken, Marker/NextMarker, RDS's Marker), served by botocore's Stubber on real
clients so each request is validated against the AWS API model (moto does not paginate)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from secmonkey.collector.reader import IncompleteRead
from secmonkey.collector.topology import balancers, network, read_topology, users


def client(service: str) -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client(service, region_name="us-east-1")


def route_table(n: int) -> dict[str, Any]:
    return {
        "RouteTableId": f"rtb-{n}",
        "VpcId": "vpc-1",
        "Associations": [{"SubnetId": f"subnet-{n}", "Main": False}],
        "Routes": [{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"}],
    }


def test_route_tables_follow_next_token_with_max_results_of_100() -> None:
    ec2 = client("ec2")
    stub = Stubber(ec2)
    stub.add_response(
        "describe_route_tables",
        {"RouteTables": [route_table(1)], "NextToken": "t2"},
        {"MaxResults": 100},
    )
    stub.add_response(
        "describe_route_tables",
        {"RouteTables": [route_table(2)]},
        {"MaxResults": 100, "NextToken": "t2"},
    )
    with stub:
        tables = network.route_tables(ec2)
    stub.assert_no_pending_responses()
    assert [(t.id, t.subnet_ids, t.routes[0].target) for t in tables] == [
        ("rtb-1", ["subnet-1"], "igw-1"),
        ("rtb-2", ["subnet-2"], "igw-1"),
    ]


def test_a_token_that_comes_back_is_an_incomplete_read() -> None:
    ec2 = client("ec2")
    stub = Stubber(ec2)
    stub.add_response(
        "describe_network_acls", {"NetworkAcls": [], "NextToken": "same"}, {"MaxResults": 100}
    )
    stub.add_response(
        "describe_network_acls",
        {"NetworkAcls": [], "NextToken": "same"},
        {"MaxResults": 100, "NextToken": "same"},
    )
    with stub, pytest.raises(IncompleteRead):
        network.network_acls(ec2)


def lb(n: int) -> dict[str, Any]:
    return {
        "LoadBalancerArn": f"arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/app/lb{n}/1",
        "LoadBalancerName": f"lb{n}",
        "Scheme": "internet-facing",
        "Type": "application",
        "VpcId": "vpc-1",
        "SecurityGroups": [f"sg-{n}"],
        "AvailabilityZones": [{"ZoneName": "us-east-1a", "SubnetId": "subnet-1"}],
        "DNSName": f"lb{n}.example.com",
    }


def test_elbv2_follows_marker_chains_for_balancers_and_their_listeners() -> None:
    elbv2 = client("elbv2")
    stub = Stubber(elbv2)
    stub.add_response(
        "describe_load_balancers", {"LoadBalancers": [lb(1)], "NextMarker": "m2"}, {"PageSize": 400}
    )
    stub.add_response(
        "describe_listeners",
        {"Listeners": [{"Port": 443, "Protocol": "HTTPS"}], "NextMarker": "l2"},
        {"PageSize": 400, "LoadBalancerArn": lb(1)["LoadBalancerArn"]},
    )
    stub.add_response(
        "describe_listeners",
        {"Listeners": [{"Port": 80, "Protocol": "HTTP"}]},
        {"PageSize": 400, "LoadBalancerArn": lb(1)["LoadBalancerArn"], "Marker": "l2"},
    )
    stub.add_response(
        "describe_load_balancers", {"LoadBalancers": [lb(2)]}, {"PageSize": 400, "Marker": "m2"}
    )
    stub.add_response(
        "describe_listeners",
        {"Listeners": []},
        {"PageSize": 400, "LoadBalancerArn": lb(2)["LoadBalancerArn"]},
    )
    with stub:
        found = balancers.elbv2(elbv2)
    stub.assert_no_pending_responses()
    assert [(b.id, [x.port for x in b.listeners], b.group_ids) for b in found] == [
        ("lb1", [80, 443], ["sg-1"]),
        ("lb2", [], ["sg-2"]),
    ]


def test_rds_marker_and_lambda_next_marker_chains_mark_their_groups_used() -> None:
    rds, fn = client("rds"), client("lambda")
    rds_stub, fn_stub = Stubber(rds), Stubber(fn)
    rds_stub.add_response(
        "describe_db_instances",
        {
            "DBInstances": [
                {
                    "DBInstanceIdentifier": "db1",
                    "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-1"}],
                }
            ],
            "Marker": "r2",
        },
        {"MaxRecords": 100},
    )
    rds_stub.add_response(
        "describe_db_instances",
        {
            "DBInstances": [
                {
                    "DBInstanceIdentifier": "db2",
                    "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-2"}],
                }
            ]
        },
        {"MaxRecords": 100, "Marker": "r2"},
    )
    fn_stub.add_response(
        "list_functions",
        {
            "Functions": [{"FunctionName": "f1", "VpcConfig": {"SecurityGroupIds": ["sg-3"]}}],
            "NextMarker": "f2",
        },
        {"MaxItems": 50},
    )
    fn_stub.add_response(
        "list_functions", {"Functions": [{"FunctionName": "f2"}]}, {"MaxItems": 50, "Marker": "f2"}
    )
    used: users.Users = {}
    with rds_stub, fn_stub:
        users.rds(rds, used)
        users.lambdas(fn, used)
    assert used == {
        "sg-1": {"RDS instance db1"},
        "sg-2": {"RDS instance db2"},
        "sg-3": {"Lambda function f1"},
    }


def ecs_service(n: int) -> dict[str, Any]:
    return {
        "serviceName": f"svc{n}",
        "networkConfiguration": {
            "awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": [f"sg-e{n}"]}
        },
    }


def test_ecs_clusters_and_services_follow_next_token_and_describe_ten_at_a_time() -> None:
    ecs = client("ecs")
    stub = Stubber(ecs)
    arn = "arn:aws:ecs:us-east-1:111111111111:"
    stub.add_response(
        "list_clusters",
        {"clusterArns": [f"{arn}cluster/a"], "nextToken": "c2"},
        {"maxResults": 100},
    )
    services = [f"{arn}service/a/svc{n}" for n in range(12)]
    stub.add_response(
        "list_services",
        {"serviceArns": services[:7], "nextToken": "s2"},
        {"maxResults": 100, "cluster": f"{arn}cluster/a"},
    )
    stub.add_response(
        "list_services",
        {"serviceArns": services[7:]},
        {"maxResults": 100, "cluster": f"{arn}cluster/a", "nextToken": "s2"},
    )
    stub.add_response(
        "describe_services",
        {"services": [ecs_service(n) for n in range(10)]},
        {"cluster": f"{arn}cluster/a", "services": services[:10]},
    )
    stub.add_response(
        "describe_services",
        {"services": [ecs_service(n) for n in range(10, 12)]},
        {"cluster": f"{arn}cluster/a", "services": services[10:]},
    )
    stub.add_response(
        "list_clusters",
        {"clusterArns": [f"{arn}cluster/b"]},
        {"maxResults": 100, "nextToken": "c2"},
    )
    stub.add_response(
        "list_services", {"serviceArns": []}, {"maxResults": 100, "cluster": f"{arn}cluster/b"}
    )
    used: users.Users = {}
    with stub:
        users.ecs(ecs, used)
    stub.assert_no_pending_responses()
    assert used == {f"sg-e{n}": {f"ECS service svc{n}"} for n in range(12)}


def test_a_whole_read_asks_each_service_and_joins_interfaces_gateways_and_users() -> None:
    clients = {s: client(s) for s in ("ec2", "autoscaling", "rds", "lambda", "elbv2", "elb", "ecs")}
    stubs = {s: Stubber(c) for s, c in clients.items()}
    ec2 = stubs["ec2"]
    ec2.add_response(
        "describe_launch_template_versions",
        {
            "LaunchTemplateVersions": [
                {"LaunchTemplateId": "lt-1", "LaunchTemplateData": {"SecurityGroupIds": ["sg-lt"]}}
            ]
        },
        {"MaxResults": 200, "Versions": ["$Latest", "$Default"]},
    )
    stubs["autoscaling"].add_response(
        "describe_launch_configurations", {"LaunchConfigurations": []}, {"MaxRecords": 100}
    )
    stubs["rds"].add_response("describe_db_instances", {"DBInstances": []}, {"MaxRecords": 100})
    stubs["lambda"].add_response("list_functions", {"Functions": []}, {"MaxItems": 50})
    stubs["elbv2"].add_response("describe_load_balancers", {"LoadBalancers": []}, {"PageSize": 400})
    stubs["elb"].add_response(
        "describe_load_balancers", {"LoadBalancerDescriptions": []}, {"PageSize": 400}
    )
    stubs["ecs"].add_response("list_clusters", {"clusterArns": []}, {"maxResults": 100})
    ec2.add_response(
        "describe_subnets",
        {"Subnets": [{"SubnetId": "subnet-1", "VpcId": "vpc-1", "CidrBlock": "10.0.1.0/24"}]},
        {"MaxResults": 1000},
    )
    ec2.add_response(
        "describe_route_tables", {"RouteTables": [route_table(1)]}, {"MaxResults": 100}
    )
    ec2.add_response(
        "describe_internet_gateways",
        {
            "InternetGateways": [
                {
                    "InternetGatewayId": "igw-1",
                    "Attachments": [{"VpcId": "vpc-1", "State": "available"}],
                }
            ]
        },
        {"MaxResults": 1000},
    )
    ec2.add_response(
        "describe_egress_only_internet_gateways",
        {"EgressOnlyInternetGateways": []},
        {"MaxResults": 255},
    )
    ec2.add_response("describe_network_acls", {"NetworkAcls": []}, {"MaxResults": 100})
    ec2.add_response(
        "get_managed_prefix_list_entries",
        {"Entries": [{"Cidr": "0.0.0.0/0"}]},
        {"MaxResults": 100, "PrefixListId": "pl-1"},
    )
    raw_groups = [
        {
            "GroupId": "sg-web",
            "IpPermissions": [
                {
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "PrefixListIds": [{"PrefixListId": "pl-1"}],
                },
                {
                    "IpProtocol": "tcp",
                    "FromPort": 80,
                    "ToPort": 80,
                    "UserIdGroupPairs": [{"GroupId": "sg-db"}],
                },
            ],
        }
    ]
    raw_interfaces = [
        {
            "NetworkInterfaceId": "eni-1",
            "SubnetId": "subnet-1",
            "VpcId": "vpc-1",
            "Attachment": {"InstanceId": "i-1"},
            "Groups": [{"GroupId": "sg-web"}],
            "Association": {"PublicIp": "54.1.2.3", "AllocationId": "eipalloc-1"},
            "Ipv6Addresses": [{"Ipv6Address": "2600:1f18::10"}],
        }
    ]
    for stub in stubs.values():
        stub.activate()
    topology = read_topology(
        clients.__getitem__,
        "111111111111",
        "us-east-1",
        datetime(2026, 12, 1, tzinfo=UTC),
        raw_groups,
        raw_interfaces,
    )
    for stub in stubs.values():
        stub.assert_no_pending_responses()
    assert topology.internet_gateways == {"igw-1": ["vpc-1"]}
    assert topology.prefix_lists == {"pl-1": ["0.0.0.0/0"]}
    assert topology.group_users == {"sg-db": ["rule of sg-web"], "sg-lt": ["launch template lt-1"]}
    [eni] = topology.interfaces
    assert (eni.instance_id, eni.public_ipv4, eni.elastic_ip, eni.ipv6) == (
        "i-1",
        "54.1.2.3",
        True,
        ["2600:1f18::10"],
    )


def test_auto_scaling_groups_are_read_only_to_name_launch_configuration_users() -> None:
    autoscaling = client("autoscaling")
    stub = Stubber(autoscaling)
    stub.add_response(
        "describe_launch_configurations", {"LaunchConfigurations": []}, {"MaxRecords": 100}
    )
    used: users.Users = {}
    with stub:
        users.autoscaling(autoscaling, used)  # no configurations: no DescribeAutoScalingGroups
    stub.assert_no_pending_responses()
    assert used == {}

    stub.add_response(
        "describe_launch_configurations",
        {
            "LaunchConfigurations": [
                {
                    "LaunchConfigurationName": "lc-1",
                    "ImageId": "ami-1",
                    "InstanceType": "t3.micro",
                    "SecurityGroups": ["sg-lc"],
                    "CreatedTime": datetime(2026, 1, 1, tzinfo=UTC),
                }
            ]
        },
        {"MaxRecords": 100},
    )
    stub.add_response(
        "describe_auto_scaling_groups",
        {
            "AutoScalingGroups": [
                {
                    "AutoScalingGroupName": "asg-1",
                    "LaunchConfigurationName": "lc-1",
                    "MinSize": 0,
                    "MaxSize": 2,
                    "DesiredCapacity": 0,
                    "DefaultCooldown": 300,
                    "AvailabilityZones": ["us-east-1a"],
                    "HealthCheckType": "EC2",
                    "CreatedTime": datetime(2026, 1, 1, tzinfo=UTC),
                }
            ]
        },
        {"MaxRecords": 100},
    )
    with stub:
        users.autoscaling(autoscaling, used)
    stub.assert_no_pending_responses()
    assert used == {"sg-lc": {"launch configuration lc-1", "Auto Scaling group asg-1"}}


def quiet_region_stubs(
    balancers: list[dict[str, Any]],
) -> tuple[dict[str, Any], dict[str, Stubber]]:
    """Every service's answers for a region with no launch template, configuration, RDS,
    Lambda or ECS user, and the given ELBv2 load balancers (no listeners)."""
    clients = {s: client(s) for s in ("ec2", "autoscaling", "rds", "lambda", "elbv2", "elb", "ecs")}
    stubs = {s: Stubber(c) for s, c in clients.items()}
    stubs["ec2"].add_response(
        "describe_launch_template_versions",
        {"LaunchTemplateVersions": []},
        {"MaxResults": 200, "Versions": ["$Latest", "$Default"]},
    )
    stubs["autoscaling"].add_response(
        "describe_launch_configurations", {"LaunchConfigurations": []}, {"MaxRecords": 100}
    )
    stubs["rds"].add_response("describe_db_instances", {"DBInstances": []}, {"MaxRecords": 100})
    stubs["lambda"].add_response("list_functions", {"Functions": []}, {"MaxItems": 50})
    stubs["elbv2"].add_response(
        "describe_load_balancers", {"LoadBalancers": balancers}, {"PageSize": 400}
    )
    for balancer in balancers:
        stubs["elbv2"].add_response(
            "describe_listeners",
            {"Listeners": []},
            {"PageSize": 400, "LoadBalancerArn": balancer["LoadBalancerArn"]},
        )
    stubs["elb"].add_response(
        "describe_load_balancers", {"LoadBalancerDescriptions": []}, {"PageSize": 400}
    )
    stubs["ecs"].add_response("list_clusters", {"clusterArns": []}, {"maxResults": 100})
    return clients, stubs


def network_path_stubs(ec2: Stubber) -> None:
    ec2.add_response("describe_subnets", {"Subnets": []}, {"MaxResults": 1000})
    ec2.add_response("describe_route_tables", {"RouteTables": []}, {"MaxResults": 100})
    ec2.add_response("describe_internet_gateways", {"InternetGateways": []}, {"MaxResults": 1000})
    ec2.add_response(
        "describe_egress_only_internet_gateways",
        {"EgressOnlyInternetGateways": []},
        {"MaxResults": 255},
    )
    ec2.add_response("describe_network_acls", {"NetworkAcls": []}, {"MaxResults": 100})


PRIVATE_INTERFACE = {
    "NetworkInterfaceId": "eni-private",
    "SubnetId": "subnet-1",
    "VpcId": "vpc-1",
    "Groups": [{"GroupId": "sg-app"}],
    "Ipv6Addresses": [{"Ipv6Address": "fd00::10"}],  # unique local: not an internet address
}


@pytest.mark.parametrize(
    ("interface", "balancers", "path_read"),
    [
        (PRIVATE_INTERFACE, [], False),
        (PRIVATE_INTERFACE, [lb(1) | {"Scheme": "internal"}], False),
        (PRIVATE_INTERFACE, [lb(1)], True),  # internet-facing, with a group
        (PRIVATE_INTERFACE | {"Association": {"PublicIp": "54.1.2.3"}}, [], True),
        (PRIVATE_INTERFACE | {"Ipv6Addresses": [{"Ipv6Address": "2600:1f18::10"}]}, [], True),
        (PRIVATE_INTERFACE | {"Association": {"PublicIp": "54.1.2.3"}, "Groups": []}, [], False),
    ],
    ids=["private", "internal-lb", "internet-facing-lb", "public-ipv4", "global-ipv6", "no-group"],
)
def test_the_network_path_is_read_only_where_something_could_be_reached(
    interface: dict[str, Any], balancers: list[dict[str, Any]], path_read: bool
) -> None:
    clients, stubs = quiet_region_stubs(balancers)
    if path_read:
        network_path_stubs(stubs["ec2"])
    for stub in stubs.values():
        stub.activate()
    topology = read_topology(
        clients.__getitem__,
        "111111111111",
        "us-east-1",
        datetime(2026, 12, 1, tzinfo=UTC),
        [{"GroupId": "sg-app", "IpPermissions": []}],
        [interface],
    )
    for stub in stubs.values():
        stub.assert_no_pending_responses()  # and an unexpected call raises: none was made
    assert [eni.id for eni in topology.interfaces] == ["eni-private"]
