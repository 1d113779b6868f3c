"""Episodes of a system condition: raised once when it begins, resolved once when it ends.

`decide(state, observation, now)` is the pure step: from the stored state of one
condition (an account's sweeps, a queue, a queue's consumers) and what the watchdog sees
now, the new state and whether an episode begins (`raise`) or ends (`resolve`). A
condition must hold for its `grace` before it is raised (a consumer not ready for
minutes) and stay clear for its `settle` before it is resolved (a queue that stopped
growing). A growth condition (a queue's depth) holds when the depth rose since the
previous check; the first check only takes the baseline.

Event IDs derive from the condition and its episode number, so an event re-sent after a
crash, or by a second lease holder overlapping the first, is the same event.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from secmonkey.common.messages import Event, SystemRef
from secmonkey.common.severity import Severity

Transition = Literal["raise", "resolve"]
_TIME = "%Y-%m-%d %H:%M UTC"


@dataclass(frozen=True)
class Observation:
    """One condition as seen now. `key` is the event key and the state's `_id`."""

    key: str
    condition: str  # one of `secmonkey.common.messages.SYSTEM_CONDITIONS`
    subject: str
    detail: str  # what is seen now, bad or good
    severity: Severity
    bad: bool = False
    since: datetime | None = None  # when it began, if the observer knows
    grace: float = 0.0
    settle: float = 0.0
    depth: int | None = None  # a growth condition: the queue's depth now
    account_id: str | None = None
    account_name: str | None = None


class State(BaseModel):
    """`watchdog` document: one condition's state, its episodes and its unsent events."""

    model_config = ConfigDict(populate_by_name=True)

    key: str = Field(alias="_id")
    condition: str
    first_seen: datetime
    raised: bool = False
    episode: int = 0
    pending_since: datetime | None = None  # the condition holds since (not raised yet, or raised)
    clear_since: datetime | None = None  # raised, but clear since
    began_at: datetime | None = None  # the raised episode's start
    raised_at: datetime | None = None
    severity: Severity | None = None
    subject: str = ""
    account_id: str | None = None
    account_name: str | None = None
    depth: int | None = None
    outbox: list[dict[str, Any]] = Field(default_factory=list)

    def to_mongo(self) -> dict[str, Any]:
        return self.model_dump(mode="python", by_alias=True)


def decide(state: State | None, obs: Observation, now: datetime) -> tuple[State, Transition | None]:
    """The condition's new state, and the episode transition it makes now (if any)."""
    old = state or State(key=obs.key, condition=obs.condition, first_seen=now)
    new = old.model_copy(deep=True)
    bad = obs.bad
    if obs.depth is not None:
        bad = old.depth is not None and obs.depth > old.depth
        new.depth = obs.depth
    if bad:
        starts = [t for t in (old.pending_since, obs.since) if t is not None]
        new.pending_since = min(starts) if starts else now
        new.clear_since = None
        if old.raised or (now - new.pending_since).total_seconds() < obs.grace:
            return new, None
        new.raised, new.episode = True, old.episode + 1
        new.began_at, new.raised_at, new.severity = new.pending_since, now, obs.severity
        new.subject, new.account_id, new.account_name = (
            obs.subject,
            obs.account_id,
            obs.account_name,
        )
        return new, "raise"
    new.pending_since = None
    if not old.raised:
        return new, None
    new.clear_since = old.clear_since or now
    if (now - new.clear_since).total_seconds() < obs.settle:
        return new, None
    new.raised, new.clear_since = False, None
    return new, "resolve"


def event_id(key: str, episode: int, transition: Transition) -> str:
    text = "\x1f".join(("system", key, str(episode), transition))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _growth_detail(old: State | None, obs: Observation, transition: Transition) -> str:
    if transition == "resolve":
        return f"has not grown for {obs.settle:g} s; {obs.depth} message(s) in it"
    before = old.depth if old is not None else None
    return f"grew from {before} to {obs.depth} message(s) since the previous check. {obs.detail}"


def episode_event(
    old: State | None, new: State, obs: Observation, transition: Transition, now: datetime
) -> Event:
    """The `system.*` event of a transition: `<condition>` or `<condition>_resolved`."""
    detail = obs.detail
    if obs.depth is not None:
        detail = _growth_detail(old, obs, transition)
    kind = obs.condition if transition == "raise" else f"{obs.condition}_resolved"
    return Event(
        event_id=event_id(obs.key, new.episode, transition),
        type=kind,
        key=obs.key,
        account_id=new.account_id,
        account_name=new.account_name,
        at=now,
        system=SystemRef(
            subject=new.subject or obs.subject,
            detail=detail.strip(),
            severity=new.severity or obs.severity,
            since=new.began_at,
        ),
    )


def when(at: datetime) -> str:
    return at.strftime(_TIME)
