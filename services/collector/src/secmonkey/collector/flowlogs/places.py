"""The units flow logs are read in: one S3 object (AWS key layout, gzip, a header line)
or one hour of a CloudWatch Logs group, each named so a checkpoint can say it was read."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from secmonkey.common.rule_usage import FlowLogPlace, format_fields

CLOUDWATCH_WINDOW = timedelta(hours=1)
# CloudWatch Logs takes minutes to make events searchable; a window is read once it ends
# this long ago.
CLOUDWATCH_LAG = timedelta(minutes=15)


@dataclass(frozen=True)
class Unit:
    """One readable unit: `name` is unique within its place."""

    name: str
    size: int = 0


def s3_day_prefix(place: FlowLogPlace, account_id: str, region: str, day: datetime) -> str:
    base = place.prefix.strip("/")
    base = f"{base}/" if base else ""
    return f"{base}AWSLogs/{account_id}/vpcflowlogs/{region}/{day:%Y/%m/%d}/"


def s3_units(s3: Any, place: FlowLogPlace, prefix: str) -> Iterator[Unit]:
    """Every object under `prefix`, in key order, through every page."""
    token: str | None = None
    while True:
        request: dict[str, Any] = {"Bucket": place.bucket, "Prefix": prefix}
        if token:
            request["ContinuationToken"] = token
        answer = s3.list_objects_v2(**request)
        for obj in answer.get("Contents", []):
            if obj["Key"].endswith(".log.gz") or obj["Key"].endswith(".log"):
                yield Unit(obj["Key"], int(obj.get("Size", 0)))
        token = answer.get("NextContinuationToken")
        if not answer.get("IsTruncated") or not token:
            return


def s3_lines(s3: Any, place: FlowLogPlace, unit: Unit) -> tuple[list[str], Iterator[str]]:
    """The object's fields (from its header line) and an iterator over its other lines,
    decompressed as they stream from the body (never the whole object in memory)."""
    body = s3.get_object(Bucket=place.bucket, Key=unit.name)["Body"]
    raw: Any = gzip.GzipFile(fileobj=body) if unit.name.endswith(".gz") else body
    text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace")
    header = text.readline()
    first = header.split()
    if first and not first[0].isdigit():
        fields = format_fields(header)
        return fields, iter(text)
    fields = place.fields()
    return fields, _chain(header, text)


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def cloudwatch_units(since: datetime, now: datetime) -> Iterator[Unit]:
    """Whole hours from `since` that ended `CLOUDWATCH_LAG` before `now`."""
    start = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    while start + CLOUDWATCH_WINDOW <= now - CLOUDWATCH_LAG:
        yield Unit(f"{int(start.timestamp())}")
        start += CLOUDWATCH_WINDOW


def cloudwatch_lines(logs: Any, place: FlowLogPlace, unit: Unit) -> Iterator[str]:
    """Every event message of the hour `unit`, through every page (filtered on the
    client side: moto ignores most filter patterns)."""
    start_ms = int(unit.name) * 1000
    end_ms = start_ms + int(CLOUDWATCH_WINDOW.total_seconds() * 1000)
    token: str | None = None
    while True:
        request: dict[str, Any] = {
            "logGroupName": place.log_group,
            "startTime": start_ms,
            "endTime": end_ms - 1,
        }
        if token:
            request["nextToken"] = token
        answer = logs.filter_log_events(**request)
        for event in answer.get("events", []):
            yield event.get("message", "")
        token = answer.get("nextToken")
        if not token:
            return
