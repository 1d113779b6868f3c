"""Load balancers (ELBv2 and classic): internet-facing ones carry exposure; every one, even
internal, is a user of its groups (moto, like AWS for an ALB, shows no interface for it)."""

from __future__ import annotations

from typing import Any

from secmonkey.collector.topology._paging import token_pages
from secmonkey.common.topology import Listener, LoadBalancer


def elbv2(client: Any) -> list[LoadBalancer]:
    out = []
    for lb in token_pages(
        client.describe_load_balancers,
        "LoadBalancers",
        size_param="PageSize",
        size=400,
        cursor_param="Marker",
        cursor_key="NextMarker",
    ):
        listeners = [
            Listener(protocol=str(x.get("Protocol", "TCP")).lower(), port=int(x["Port"]))
            for x in token_pages(
                client.describe_listeners,
                "Listeners",
                size_param="PageSize",
                size=400,
                cursor_param="Marker",
                cursor_key="NextMarker",
                LoadBalancerArn=lb["LoadBalancerArn"],
            )
            if x.get("Port") is not None
        ]
        out.append(
            LoadBalancer(
                id=lb.get("LoadBalancerName", lb["LoadBalancerArn"]),
                kind=lb.get("Type", "application"),
                scheme=lb.get("Scheme", "internet-facing"),
                dns_name=lb.get("DNSName", ""),
                vpc_id=lb.get("VpcId"),
                subnet_ids=sorted(
                    z["SubnetId"] for z in lb.get("AvailabilityZones", []) if z.get("SubnetId")
                ),
                group_ids=sorted(lb.get("SecurityGroups", [])),
                listeners=sorted(listeners, key=lambda x: x.port),
                dualstack=lb.get("IpAddressType", "ipv4") != "ipv4",
            )
        )
    return out


def classic(client: Any) -> list[LoadBalancer]:
    out = []
    for lb in token_pages(
        client.describe_load_balancers,
        "LoadBalancerDescriptions",
        size_param="PageSize",
        size=400,
        cursor_param="Marker",
        cursor_key="NextMarker",
    ):
        listeners = [
            Listener(
                protocol=str(d["Listener"].get("Protocol", "TCP")).lower(),
                port=int(d["Listener"]["LoadBalancerPort"]),
            )
            for d in lb.get("ListenerDescriptions", [])
            if (d.get("Listener") or {}).get("LoadBalancerPort") is not None
        ]
        out.append(
            LoadBalancer(
                id=lb["LoadBalancerName"],
                kind="classic",
                scheme=lb.get("Scheme", "internet-facing"),
                dns_name=lb.get("DNSName", ""),
                vpc_id=lb.get("VPCId"),
                subnet_ids=sorted(lb.get("Subnets", [])),
                group_ids=sorted(lb.get("SecurityGroups", [])),
                listeners=sorted(listeners, key=lambda x: x.port),
            )
        )
    return out
