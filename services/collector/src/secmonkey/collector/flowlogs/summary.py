"""A group's usage state as stored in `rule_usage_summary`, merged batch by batch.

Each rule keeps its hits per day (90 days), its last use, its sources over the window
(exact up to `SOURCE_BOUND` per rule; beyond that a HyperLogLog estimate, marked
approximate) and the batches already merged, so that merging a batch twice (a restart
between writing and checkpointing) changes nothing.
"""

from __future__ import annotations

import functools
import ipaddress
from datetime import UTC, datetime, timedelta
from typing import Any

from bson.binary import Binary

from secmonkey.collector.flowlogs.tally import (
    HLL_SIZE,
    SOURCE_BOUND,
    RuleDay,
    hll_add,
    hll_estimate,
    hll_merge,
)

HISTORY_DAYS = 90
WINDOW_DAYS = 30
TOP_SOURCES = 10
KEEP_BATCHES = 500
DAY = 86400


def epoch_day(at: datetime) -> int:
    return int(at.timestamp()) // DAY


def day_text(day: int) -> str:
    return datetime.fromtimestamp(day * DAY, UTC).strftime("%Y-%m-%d")


@functools.lru_cache(maxsize=65536)
def network_of(src: str) -> str:
    """The /24 (IPv4) or /48 (IPv6) of a source address."""
    head, dot, last = src.rpartition(".")
    if dot and last.isdigit() and head.count(".") == 2 and ":" not in head:
        parts = head.split(".")
        if all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts):
            return f"{'.'.join(str(int(p)) for p in parts)}.0/24"
    address = ipaddress.ip_address(src)
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{src}/{prefix}", strict=False))


# Days and sources are stored packed in one string each ("day=hits=ambiguous ...",
# "address=hits=last day ..."): FerretDB stores arrays of small documents slowly, and a
# summary is rewritten after every batch that touches its group.


def _unpack(text: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for entry in text.split():
        key, first, second = entry.split("=")
        out[key] = [int(first), int(second)]
    return out


def _pack(values: dict[str, list[int]]) -> str:
    return " ".join(f"{k}={a}={b}" for k, (a, b) in values.items())


def daily(state: dict[str, Any]) -> list[tuple[int, int, int]]:
    """(epoch day, hits, ambiguous) in day order."""
    return sorted((int(d), h, a) for d, (h, a) in _unpack(state["daily"]).items())


def sources(state: dict[str, Any]) -> dict[str, list[int]]:
    """{address: [hits, last day]}"""
    return _unpack(state["sources"])


def new_rule_state(text: str) -> dict[str, Any]:
    return {
        "rule": text,
        "daily": "",
        "last": 0,
        "sources": "",
        "overflow_days": [],
        "hll": None,
        "hll_since": 0,
    }


def merge_rule(state: dict[str, Any], day: int, tally: RuleDay) -> None:
    """Add one day's tally of one batch to a rule's stored state."""
    days = _unpack(state["daily"])
    entry = days.setdefault(str(day), [0, 0])
    entry[0] += tally.hits
    entry[1] += tally.ambiguous
    state["daily"] = _pack(dict(sorted(days.items(), key=lambda kv: int(kv[0]))))
    state["last"] = max(int(state["last"]), tally.last)
    known = _unpack(state["sources"])
    was_exact = not state["overflow_days"]
    overflow = tally.overflow
    for src, hits in tally.sources.items():
        seen = known.get(src)
        if seen is not None:
            seen[0] += hits
            seen[1] = max(seen[1], day)
        elif len(known) < SOURCE_BOUND:
            known[src] = [hits, day]
        else:
            overflow = True
    state["sources"] = _pack(known)
    if overflow and day not in state["overflow_days"]:
        state["overflow_days"].append(day)
    if state["overflow_days"]:
        registers = bytearray(bytes(state["hll"])) if state["hll"] else bytearray(HLL_SIZE)
        for src in known if was_exact or not state["hll"] else tally.sources:
            hll_add(registers, src)
        for src in tally.sources:
            hll_add(registers, src)
        if tally.hll is not None:
            hll_merge(registers, tally.hll)
        state["hll"] = Binary(bytes(registers))
        if not state["hll_since"]:
            state["hll_since"] = day


def expire_rule(state: dict[str, Any], today: int) -> None:
    """Forget days past the history and sources not seen within the window."""
    days = _unpack(state["daily"])
    state["daily"] = _pack({d: v for d, v in days.items() if int(d) > today - HISTORY_DAYS})
    known = _unpack(state["sources"])
    state["sources"] = _pack({s: v for s, v in known.items() if v[1] > today - WINDOW_DAYS})
    state["overflow_days"] = [d for d in state["overflow_days"] if d > today - WINDOW_DAYS]
    if state["hll_since"] and state["hll_since"] <= today - WINDOW_DAYS:
        # A sketch cannot forget a day: it restarts once per window (tumbling).
        state["hll"] = None
        state["hll_since"] = 0


def present(
    state: dict[str, Any],
    as_of: datetime,
    covered_since: datetime | None,
    unknown_prefix_list: bool = False,
) -> dict[str, Any]:
    """The stored state with the facts the auditor and the API read (RuleUsageDetail)."""
    today = epoch_day(as_of)
    history = daily(state)
    window = [e for e in history if e[0] > today - WINDOW_DAYS]
    hits = sum(e[1] for e in window)
    ambiguous = sum(e[2] for e in window)
    known = sources(state)
    approximate = bool(state["overflow_days"])
    distinct = len(known)
    if approximate and state["hll"]:
        distinct = max(distinct, hll_estimate(bytes(state["hll"])))
    networks: dict[str, int] = {}
    for src, (count, _) in known.items():
        net = network_of(src)
        networks[net] = networks.get(net, 0) + count
    ranked = sorted(networks.items(), key=lambda kv: (-kv[1], kv[0]))
    top = sorted(((s, v[0]) for s, v in known.items()), key=lambda kv: (-kv[1], kv[0]))
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
    # The fields of RuleUsageDetail, built as plain values (readers validate them; building
    # the models here cost a third of a 1,000-group refresh).
    detail = {
        "rule": state["rule"],
        "as_of": as_of,
        "covered_since": covered_since,
        "last_used": last_used,
        "window_days": WINDOW_DAYS,
        "hits": hits,
        "ambiguous": ambiguous,
        "distinct_sources": distinct,
        "approximate": approximate,
        "networks": [{"source": n, "hits": h} for n, h in ranked[:TOP_SOURCES]],
        "network_count": len(ranked),
        "status": status,
        "days": [{"day": day_text(d), "hits": h} for d, h, _ in history if h],
        "top_sources": [{"source": s, "hits": h} for s, h in top[:TOP_SOURCES]],
    }
    return {**state, **detail}
