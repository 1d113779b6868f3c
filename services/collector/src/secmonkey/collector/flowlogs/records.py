"""The hot loop: flow-log lines to counts per (interface, source, protocol, port, day, kind).

Plain string splitting and one dict update per accepted inbound line; nothing else runs per
record. Which side initiated a flow:

- `flow-direction` (v5) tells ingress from egress; otherwise a record is inbound when its
  destination is one of the interface's own addresses;
- `tcp-flags` (v3+): SYN without ACK is the remote side opening the connection (a use);
  SYN-ACK is the answer to the interface's own connection (never a use);
- without a SYN in the record (v2 fields, UDP, a long connection's later intervals) the
  ports decide: a flow to an ephemeral port (32768 and up) may be a reply, so it is
  counted as `AMBIGUOUS`, and rules that open such ports are reported as unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

USE = 0
AMBIGUOUS = 1
EPHEMERAL_LOW = 32768
DAY = 86400

# (interface, source, protocol number, port, epoch day, kind) -> [count, last start]
Key = tuple[str, str, str, int, int, int]


@dataclass
class LineFormat:
    """Where each field used is in a line (-1: absent)."""

    fields: list[str]
    eni: int = -1
    src: int = -1
    dst: int = -1
    sport: int = -1
    dport: int = -1
    proto: int = -1
    action: int = -1
    start: int = -1
    flags: int = -1
    direction: int = -1
    status: int = -1

    @classmethod
    def of(cls, fields: list[str]) -> LineFormat:
        pos = {name: i for i, name in enumerate(fields)}
        return cls(
            fields=fields,
            eni=pos["interface-id"],
            src=pos["srcaddr"],
            dst=pos["dstaddr"],
            sport=pos["srcport"],
            dport=pos["dstport"],
            proto=pos["protocol"],
            action=pos["action"],
            start=pos["start"],
            flags=pos.get("tcp-flags", -1),
            direction=pos.get("flow-direction", -1),
            status=pos.get("log-status", -1),
        )

    @property
    def knows_initiator(self) -> bool:
        return self.flags >= 0


@dataclass
class Counts:
    """Counts of one read, bounded by the caller (drained when `len(keys)` grows)."""

    keys: dict[Key, list[int]] = field(default_factory=dict)
    records: int = 0
    accepted_inbound: int = 0
    replies: int = 0
    unknown_interface: int = 0
    malformed: int = 0


def count_lines(
    lines: Iterable[str], fmt: LineFormat, addresses: Mapping[str, frozenset[str]], out: Counts
) -> None:
    """Add the accepted inbound flows of `lines` to `out`. `addresses`: each monitored
    interface's own addresses (records of other interfaces are counted as unknown)."""
    width = len(fmt.fields)
    i_eni, i_src, i_dst, i_dport = fmt.eni, fmt.src, fmt.dst, fmt.dport
    i_proto, i_action, i_start, i_flags, i_dir = (
        fmt.proto,
        fmt.action,
        fmt.start,
        fmt.flags,
        fmt.direction,
    )
    keys = out.keys
    records = replies = unknown = malformed = inbound = 0
    for line in lines:
        f = line.split()
        records += 1
        if len(f) != width:
            malformed += 1
            continue
        if f[i_action] != "ACCEPT":
            continue
        own = addresses.get(f[i_eni])
        if own is None:
            unknown += 1
            continue
        if i_dir >= 0:
            if f[i_dir] != "ingress":
                continue
        elif f[i_dst] not in own:
            continue
        try:
            port = int(f[i_dport])
            start = int(f[i_start])
        except ValueError:
            malformed += 1
            continue
        kind = USE
        proto = f[i_proto]
        if i_flags >= 0 and proto == "6" and f[i_flags] != "-" and int(f[i_flags]) & 2:
            if int(f[i_flags]) & 16:
                replies += 1  # SYN-ACK: the answer to the interface's own connection
                continue
        elif port >= EPHEMERAL_LOW:
            kind = AMBIGUOUS
        inbound += 1
        key = (f[i_eni], f[i_src], proto, port, start // DAY, kind)
        entry = keys.get(key)
        if entry is None:
            keys[key] = [1, start]
        else:
            entry[0] += 1
            if start > entry[1]:
                entry[1] = start
    out.records += records
    out.replies += replies
    out.unknown_interface += unknown
    out.malformed += malformed
    out.accepted_inbound += inbound
