"""What else uses a group besides a network interface: launch templates and configurations,
Auto Scaling groups (even at zero instances), RDS instances, Lambda functions (whose
interfaces AWS reclaims when idle) and ECS services (whose task interfaces come and go).
A group any of them names is not unused."""

from __future__ import annotations

from typing import Any

from secmonkey.collector.topology._paging import token_pages

Users = dict[str, set[str]]


def add(users: Users, group_ids: Any, what: str) -> None:
    for group_id in group_ids or ():
        if isinstance(group_id, str) and group_id.startswith("sg-"):
            users.setdefault(group_id, set()).add(what)


def launch_templates(ec2: Any, users: Users) -> None:
    """The latest and default versions of every launch template (one paginated call)."""
    for version in token_pages(
        ec2.describe_launch_template_versions,
        "LaunchTemplateVersions",
        size=200,
        Versions=["$Latest", "$Default"],
    ):
        data = version.get("LaunchTemplateData") or {}
        what = f"launch template {version.get('LaunchTemplateId', '?')}"
        add(users, data.get("SecurityGroupIds"), what)
        for eni in data.get("NetworkInterfaces", []):
            add(users, eni.get("Groups"), what)


def autoscaling(client: Any, users: Users) -> None:
    """Launch configurations' groups, and the Auto Scaling groups that use them (at zero
    instances too); a group of an ASG's launch template is found by `launch_templates`,
    so without launch configurations the Auto Scaling groups name nothing more (not read)."""
    by_config: dict[str, list[str]] = {}
    for config in token_pages(
        client.describe_launch_configurations, "LaunchConfigurations", size_param="MaxRecords"
    ):
        name = config.get("LaunchConfigurationName", "?")
        by_config[name] = list(config.get("SecurityGroups") or [])
        add(users, by_config[name], f"launch configuration {name}")
    if not by_config:
        return
    for asg in token_pages(
        client.describe_auto_scaling_groups, "AutoScalingGroups", size_param="MaxRecords"
    ):
        config_name = asg.get("LaunchConfigurationName")
        if config_name:
            add(
                users,
                by_config.get(config_name),
                f"Auto Scaling group {asg['AutoScalingGroupName']}",
            )


def rds(client: Any, users: Users) -> None:
    for db in token_pages(
        client.describe_db_instances,
        "DBInstances",
        size_param="MaxRecords",
        cursor_param="Marker",
        cursor_key="Marker",
    ):
        add(
            users,
            [g.get("VpcSecurityGroupId") for g in db.get("VpcSecurityGroups", [])],
            f"RDS instance {db.get('DBInstanceIdentifier', '?')}",
        )


def lambdas(client: Any, users: Users) -> None:
    for fn in token_pages(
        client.list_functions,
        "Functions",
        size_param="MaxItems",
        size=50,
        cursor_param="Marker",
        cursor_key="NextMarker",
    ):
        add(
            users,
            (fn.get("VpcConfig") or {}).get("SecurityGroupIds"),
            f"Lambda function {fn.get('FunctionName', '?')}",
        )


DESCRIBE_SERVICES_MAX = 10  # DescribeServices takes at most 10 services per call


def ecs(client: Any, users: Users) -> None:
    """ECS services with an awsvpc network configuration: their tasks' interfaces come and
    go (a service scaled to zero has none), the service names the groups all along."""
    for cluster in token_pages(
        client.list_clusters,
        "clusterArns",
        size_param="maxResults",
        cursor_param="nextToken",
        cursor_key="nextToken",
    ):
        arns = list(
            token_pages(
                client.list_services,
                "serviceArns",
                size_param="maxResults",
                cursor_param="nextToken",
                cursor_key="nextToken",
                cluster=cluster,
            )
        )
        for first in range(0, len(arns), DESCRIBE_SERVICES_MAX):
            answer = client.describe_services(
                cluster=cluster, services=arns[first : first + DESCRIBE_SERVICES_MAX]
            )
            for service in answer.get("services", []):
                vpc = (service.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
                add(
                    users,
                    vpc.get("securityGroups"),
                    f"ECS service {service.get('serviceName', '?')}",
                )
