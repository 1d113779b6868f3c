"""A group's usage state as stored in `rule_usage_summary`, merged batch by batch.

Each rule keeps its hits per day (90 days), its last use, its sources over the window
(exact up to `SOURCE_BOUND` per rule; beyond that a HyperLogLog estimate, marked
approximate) and the batches already merged, so that merging a batch twice (a restart
between writing and checkpointing) changes nothing.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from typing import Any

from bson.binary import Binary

from secmonkey.collector.flowlogs.tally import (
    HLL_SIZE,
    SOURCE_BOUND,
    RuleDay,
    hll_estimate,
    hll_merge,
)
from secmonkey.common.rule_usage import Count, DailyHits, RuleUsageDetail

HISTORY_DAYS = 90
WINDOW_DAYS = 30
TOP_SOURCES = 10
KEEP_BATCHES = 500
DAY = 86400


def epoch_day(at: datetime) -> int:
    return int(at.timestamp()) // DAY


def day_text(day: int) -> str:
    return datetime.fromtimestamp(day * DAY, UTC).strftime("%Y-%m-%d")


def network_of(src: str) -> str:
    address = ipaddress.ip_address(src)
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{src}/{prefix}", strict=False))


def new_rule_state(text: str) -> dict[str, Any]:
    return {
        "rule": text,
        "daily": [],
        "last": 0,
        "sources": [],
        "overflow_days": [],
        "hll": Binary(bytes(HLL_SIZE)),
        "hll_since": 0,
    }


def merge_rule(state: dict[str, Any], day: int, tally: RuleDay) -> None:
    """Add one day's tally of one batch to a rule's stored state."""
    days = {e["d"]: [e["h"], e["a"]] for e in state["daily"]}
    entry = days.setdefault(day, [0, 0])
    entry[0] += tally.hits
    entry[1] += tally.ambiguous
    state["daily"] = [{"d": d, "h": h, "a": a} for d, (h, a) in sorted(days.items())]
    state["last"] = max(int(state["last"]), tally.last)
    sources = {e["s"]: [e["h"], e["d"]] for e in state["sources"]}
    for src, hits in tally.sources.items():
        known = sources.get(src)
        if known is not None:
            known[0] += hits
            known[1] = max(known[1], day)
        elif len(sources) < SOURCE_BOUND:
            sources[src] = [hits, day]
        elif day not in state["overflow_days"]:
            state["overflow_days"].append(day)
    if tally.overflow and day not in state["overflow_days"]:
        state["overflow_days"].append(day)
    state["sources"] = [{"s": s, "h": h, "d": d} for s, (h, d) in sources.items()]
    registers = bytearray(bytes(state["hll"]))
    hll_merge(registers, tally.hll)
    state["hll"] = Binary(bytes(registers))
    if not state["hll_since"]:
        state["hll_since"] = day


def expire_rule(state: dict[str, Any], today: int) -> None:
    """Forget days past the history and sources not seen within the window."""
    state["daily"] = [e for e in state["daily"] if e["d"] > today - HISTORY_DAYS]
    state["sources"] = [e for e in state["sources"] if e["d"] > today - WINDOW_DAYS]
    state["overflow_days"] = [d for d in state["overflow_days"] if d > today - WINDOW_DAYS]
    if state["hll_since"] and state["hll_since"] <= today - WINDOW_DAYS:
        # A sketch cannot forget a day: it restarts once per window (tumbling).
        state["hll"] = Binary(bytes(HLL_SIZE))
        state["hll_since"] = 0


def present(
    state: dict[str, Any],
    as_of: datetime,
    covered_since: datetime | None,
    unknown_prefix_list: bool = False,
) -> dict[str, Any]:
    """The stored state with the facts the auditor and the API read (RuleUsageDetail)."""
    today = epoch_day(as_of)
    window = [e for e in state["daily"] if e["d"] > today - WINDOW_DAYS]
    hits = sum(e["h"] for e in window)
    ambiguous = sum(e["a"] for e in window)
    approximate = bool(state["overflow_days"])
    distinct = len(state["sources"])
    if approximate:
        distinct = max(distinct, hll_estimate(bytes(state["hll"])))
    networks: dict[str, int] = {}
    for entry in state["sources"]:
        net = network_of(entry["s"])
        networks[net] = networks.get(net, 0) + entry["h"]
    ranked = sorted(networks.items(), key=lambda kv: (-kv[1], kv[0]))
    top = sorted(((e["s"], e["h"]) for e in state["sources"]), key=lambda kv: (-kv[1], kv[0]))
    last = int(state["last"])
    last_used = datetime.fromtimestamp(last, UTC) if last else None
    window_start = as_of - timedelta(days=WINDOW_DAYS)
    if hits:
        status = "used"
    elif ambiguous or unknown_prefix_list:
        status = "unknown"
    elif covered_since is not None and covered_since <= window_start:
        status = "unused"
    else:
        status = "unknown"
    detail = RuleUsageDetail(
        rule=state["rule"],
        as_of=as_of,
        covered_since=covered_since,
        last_used=last_used,
        window_days=WINDOW_DAYS,
        hits=hits,
        ambiguous=ambiguous,
        distinct_sources=distinct,
        approximate=approximate,
        networks=[Count(source=n, hits=h) for n, h in ranked[:TOP_SOURCES]],
        network_count=len(ranked),
        status=status,
        days=[DailyHits(day=day_text(e["d"]), hits=e["h"]) for e in state["daily"]],
        top_sources=[Count(source=s, hits=h) for s, h in top[:TOP_SOURCES]],
    )
    return {**state, **detail.model_dump(mode="python")}
