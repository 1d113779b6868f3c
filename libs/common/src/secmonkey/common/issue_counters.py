"""An item's issue counters: `open_issues`, `max_severity`, `max_severity_rank`.

What group lists filter and sort on, derived from the group's issues (justified ones are
not open). The auditor, which owns `items` and `issues`, writes them with every commit;
the API's justifications change an issue's status outside the auditor and recount through
`recount`, the one place besides the auditor's commit that writes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from secmonkey.common.documents import Item
from secmonkey.common.errors import TransientError
from secmonkey.common.severity import SEVERITY_RANK
from secmonkey.common.storage import Store, Update

ROUNDS = 5


def counters(statuses: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The counters from each issue's (status, severity)."""
    open_severities = [severity for status, severity in statuses if status == "open"]
    top = max(open_severities, key=SEVERITY_RANK.__getitem__, default=None)
    return Item.fields(
        open_issues=len(open_severities),
        max_severity=top,
        max_severity_rank=SEVERITY_RANK[top] if top is not None else -1,
    )


async def recount(store: Store, key: str) -> None:
    """Recount the item's counters from its issues (read by `_id` from `issue_ids`).

    Guarded on the item's `seq` where writes are conditional: if the auditor commits a new
    revision in between, the counters are read and written again.
    """
    for _ in range(ROUNDS):
        found = await store.read("items", [key], {"issue_ids": 1, "state": 1, "seq": 1})
        item = found.get(key)
        if item is None or item.get("state") == "deleted":
            return  # a deleted group has no open issue (the auditor keeps them at zero)
        issues = await store.read(
            "issues", list(item.get("issue_ids") or []), {"status": 1, "severity": 1}
        )
        values = counters((str(d.get("status")), str(d["severity"])) for d in issues.values())
        update = Update(key, {"$set": values}, guard={"seq": item.get("seq")})
        if await store.write("items", [update]) == 1:
            return
    raise TransientError(f"item {key} kept changing while its issues were counted")
