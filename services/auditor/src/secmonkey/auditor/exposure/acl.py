"""Network ACLs: stateless, first matching entry by number wins, the `*` entry denies.

A source network is "let through" on a port when some address of it is: an allow entry
that overlaps the source lets it through; a deny entry decides only when it covers the
whole source (otherwise the rest of the source goes on to the next entries).
"""

from __future__ import annotations

from secmonkey.common.cidr import IPNetwork, parse_network
from secmonkey.common.errors import InvalidInput
from secmonkey.common.topology import AclEntry

PortRanges = list[tuple[int, int]]
EPHEMERAL = (1024, 65535)


def _network(entry: AclEntry) -> IPNetwork | None:
    try:
        return parse_network(entry.cidr)
    except InvalidInput:
        return None


def _protocol_matches(entry: AclEntry, protocol: str) -> bool:
    return entry.protocol == "-1" or entry.protocol == protocol


def _entry_ports(entry: AclEntry) -> tuple[int, int]:
    if entry.protocol not in ("tcp", "udp") or entry.from_port is None:
        return (0, 65535)
    return (entry.from_port, entry.to_port if entry.to_port is not None else entry.from_port)


def _decides(entries: list[AclEntry], source: IPNetwork, protocol: str, port: int) -> bool:
    """Whether traffic of `protocol` on `port` from some address of `source` passes."""
    for entry in entries:
        network = _network(entry)
        if network is None or network.version != source.version:
            continue
        if not _protocol_matches(entry, protocol):
            continue
        low, high = _entry_ports(entry)
        if protocol in ("tcp", "udp") and not low <= port <= high:
            continue
        if not network.overlaps(source):
            continue
        if entry.allow:
            return True
        if source.subnet_of(network):  # type: ignore[arg-type]
            return False
    return False


def allowed_ports(
    entries: list[AclEntry], source: IPNetwork, protocol: str, low: int, high: int
) -> PortRanges:
    """The parts of [low, high] that `entries` (one direction, sorted) let `source` reach."""
    if protocol not in ("tcp", "udp"):
        return [(low, high)] if _decides(entries, source, protocol, low) else []
    cuts = {low, high + 1}
    for entry in entries:
        if _protocol_matches(entry, protocol):
            a, b = _entry_ports(entry)
            cuts.update(x for x in (a, b + 1) if low < x <= high)
    points = sorted(cuts)
    out: PortRanges = []
    for start, end in zip(points, points[1:], strict=False):
        if _decides(entries, source, protocol, start):
            if out and out[-1][1] == start - 1:
                out[-1] = (out[-1][0], end - 1)
            else:
                out.append((start, end - 1))
    return out


def passes(
    inbound: list[AclEntry],
    outbound: list[AclEntry],
    source: IPNetwork,
    protocol: str,
    low: int,
    high: int,
) -> PortRanges:
    """Ports let in from `source` whose replies (to ephemeral ports) are let out."""
    allowed = allowed_ports(inbound, source, protocol, low, high)
    if not allowed:
        return []
    if protocol in ("tcp", "udp"):
        replies = allowed_ports(outbound, source, protocol, *EPHEMERAL)
    else:
        replies = allowed_ports(outbound, source, protocol, 0, 0)
    return allowed if replies else []
