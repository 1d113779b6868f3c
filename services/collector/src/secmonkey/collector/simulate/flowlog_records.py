"""Writing VPC flow-log records where AWS would (moto writes none): gzip objects in the
S3 key layout with their header line, or events in a CloudWatch Logs group. Used by the
simulated estate, the tests and `make bench-flowlogs`."""

from __future__ import annotations

import contextlib
import gzip
import io
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from secmonkey.common.rule_usage import V2_FIELDS

V5_FIELDS = V2_FIELDS + ["tcp-flags", "flow-direction"]
TCP, UDP = "6", "17"
SYN, ACK = 2, 16


@dataclass(frozen=True)
class Flow:
    """One flow record; fields a format lacks are left out."""

    interface: str
    src: str
    dst: str
    sport: int
    dport: int
    at: datetime
    protocol: str = TCP
    action: str = "ACCEPT"
    flags: int | None = SYN
    direction: str = "ingress"
    account: str = "123456789012"

    def line(self, fields: list[str]) -> str:
        start = int(self.at.timestamp())
        values = {
            "version": "5" if "flow-direction" in fields else "2",
            "account-id": self.account,
            "interface-id": self.interface,
            "srcaddr": self.src,
            "dstaddr": self.dst,
            "srcport": str(self.sport),
            "dstport": str(self.dport),
            "protocol": self.protocol,
            "packets": "3",
            "bytes": "180",
            "start": str(start),
            "end": str(start + 60),
            "action": self.action,
            "log-status": "OK",
            "tcp-flags": "-" if self.flags is None else str(self.flags),
            "flow-direction": self.direction,
        }
        return " ".join(values.get(f, "-") for f in fields)


def s3_key(prefix: str, account_id: str, region: str, at: datetime, flow_log_id: str) -> str:
    base = prefix.strip("/")
    base = f"{base}/" if base else ""
    return (
        f"{base}AWSLogs/{account_id}/vpcflowlogs/{region}/{at:%Y/%m/%d}/"
        f"{account_id}_vpcflowlogs_{region}_{flow_log_id}_{at:%Y%m%dT%H%MZ}_"
        f"{uuid.uuid4().hex[:8]}.log.gz"
    )


def gzip_lines(lines: Iterable[str], fields: list[str], level: int = 6) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=level) as out:
        out.write((" ".join(fields) + "\n").encode())
        chunk: list[str] = []
        for line in lines:
            chunk.append(line)
            if len(chunk) >= 10_000:
                out.write(("\n".join(chunk) + "\n").encode())
                chunk = []
        if chunk:
            out.write(("\n".join(chunk) + "\n").encode())
    return buffer.getvalue()


def put_s3_flows(
    s3: Any,
    bucket: str,
    flows: list[Flow],
    *,
    region: str = "us-east-1",
    prefix: str = "",
    fields: list[str] | None = None,
    flow_log_id: str = "fl-0123456789abcdef0",
) -> str:
    """One object holding `flows` (keyed by the first flow's time); its key."""
    fields = fields or list(V2_FIELDS)
    at = flows[0].at.astimezone(UTC)
    key = s3_key(prefix, flows[0].account, region, at, flow_log_id)
    body = gzip_lines((f.line(fields) for f in flows), fields)
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return key


def put_cloudwatch_flows(
    logs: Any, log_group: str, flows: list[Flow], fields: list[str] | None = None
) -> None:
    """Events in one stream per interface (`<eni>-all`, as AWS names them)."""
    fields = fields or list(V2_FIELDS)
    by_stream: dict[str, list[Flow]] = {}
    for flow in flows:
        by_stream.setdefault(f"{flow.interface}-all", []).append(flow)
    for stream, items in by_stream.items():
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_stream(logGroupName=log_group, logStreamName=stream)
        events = [
            {"timestamp": int(f.at.timestamp() * 1000), "message": f.line(fields)}
            for f in sorted(items, key=lambda f: f.at)
        ]
        logs.put_log_events(logGroupName=log_group, logStreamName=stream, logEvents=events)
