"""Coalescing: every event on one account-region within a window becomes one read.

A window opens with the first event of an (account, region) and closes
`events_window_seconds` later, however many events arrived meanwhile, so the delay an
event adds is bounded by the window. Each group remembers every distinct call that named
it (by CloudTrail event ID), so the snapshot of that group says who changed it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from secmonkey.collector.cloudtrail.api_calls import ApiCall
from secmonkey.common.messages import Caller


@dataclass
class Window:
    """The pending events of one account and region, and the SQS receipts to delete."""

    account_id: str
    region: str
    opened: float = field(default_factory=time.monotonic)
    ids: dict[str, dict[str, Caller]] = field(default_factory=dict)
    names: dict[str, dict[str, Caller]] = field(default_factory=dict)
    deleted_names: dict[str, dict[str, Caller]] = field(default_factory=dict)
    receipts: list[str] = field(default_factory=list)
    calls: dict[str, ApiCall] = field(default_factory=dict)
    topology: dict[str, Caller] = field(default_factory=dict)  # route/ACL/address calls
    duplicates: int = 0

    def add(self, call: ApiCall, receipt: str) -> bool:
        """Add one received call; False when its event ID was already in the window."""
        self.receipts.append(receipt)
        if call.event_id in self.calls:
            self.duplicates += 1
            return False
        self.calls[call.event_id] = call
        if call.topology:
            self.topology[call.event_id] = call.caller
        for group_id in call.group_ids:
            self.ids.setdefault(group_id, {})[call.event_id] = call.caller
        for name in call.group_names:
            target = self.deleted_names if call.is_delete else self.names
            target.setdefault(name, {})[call.event_id] = call.caller
        return True

    def callers_of(self, group_id: str, name: str | None = None) -> list[Caller]:
        """Every call that named `group_id` (or its name), oldest first."""
        callers = dict(self.ids.get(group_id, {}))
        if name is not None:
            callers.update(self.names.get(name, {}))
            callers.update(self.deleted_names.get(name, {}))
        return sorted(callers.values(), key=lambda c: (c.at is None, c.at, c.event_id))


class Windows:
    """The open windows, one per (account, region)."""

    def __init__(self) -> None:
        self._open: dict[tuple[str, str], Window] = {}

    def add(self, call: ApiCall, receipt: str) -> tuple[Window, bool, bool]:
        """Add a call; returns its window, whether the window is new, whether the call is."""
        key = (call.account_id, call.region)
        window = self._open.get(key)
        opened = window is None
        if window is None:
            window = self._open[key] = Window(call.account_id, call.region)
        return window, opened, window.add(call, receipt)

    def close(self, window: Window) -> None:
        """Stop adding to `window`: the next event of its account-region opens a new one."""
        key = (window.account_id, window.region)
        if self._open.get(key) is window:
            del self._open[key]

    def holds(self, account_id: str, region: str, group_id: str) -> bool:
        """Whether a call naming `group_id` waits in its account-region's open window."""
        window = self._open.get((account_id, region))
        return window is not None and group_id in window.ids

    def open_windows(self) -> list[Window]:
        return list(self._open.values())

    @property
    def pending_receipts(self) -> int:
        return sum(len(w.receipts) for w in self._open.values())
