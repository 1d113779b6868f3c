"""The sweep carries each group's rule usage to the auditor, beside its attachments (not
part of the fingerprint): the auditor's `unused-rule` and `narrowable-rule` judge it."""

from __future__ import annotations

import logging

from secmonkey.collector.reader import RegionRead
from secmonkey.common.item_keys import item_key
from secmonkey.common.rule_usage import read_region_summaries
from secmonkey.common.storage import Database

log = logging.getLogger(__name__)


async def attach_usage(db: Database, account_id: str, region: str, read: RegionRead) -> int:
    """Put each group's usage facts on its snapshot; the number of groups with usage.
    A failed read leaves usage out (the rules then say nothing) rather than fail the sweep."""
    try:
        summaries = await read_region_summaries(db, account_id, region)
    except Exception as exc:
        log.warning("rule usage of %s/%s not read: %s", account_id, region, exc)
        return 0
    found = 0
    for snapshot in read.groups:
        summary = summaries.get(item_key(account_id, region, snapshot.config.group_id))
        if summary is not None:
            current = {r.text() for r in snapshot.config.rules if r.direction == "ingress"}
            snapshot.attachments.usage = [f for f in summary.facts() if f.rule in current]
            found += 1
    return found
