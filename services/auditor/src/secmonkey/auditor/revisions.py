"""A group's revisions: the document of each, and appending them among competing writers.

A revision's `_id` `<key>:<seq>` is unique, so of two writers only one appends revision
n+1. The other finds it: if it is its own (an attempt that stopped before its commit) it
resumes; if it is another writer's, it completes that one and decides its own observation
again.
"""

from __future__ import annotations

import logging

from secmonkey.auditor.chain_links import prev_hashes
from secmonkey.auditor.decide import Source, Work
from secmonkey.common.canonical import Attachments, CanonicalGroup
from secmonkey.common.changes import change_list, diff_text
from secmonkey.common.dates import aware
from secmonkey.common.documents import Revision
from secmonkey.common.messages import Caller
from secmonkey.common.storage import Document, Store

log = logging.getLogger(__name__)


def previous_config(item: Work) -> CanonicalGroup | None:
    if item.previous is None:
        return None
    return CanonicalGroup.model_validate(item.previous["config"])


def changes_of(item: Work) -> list[str]:
    """The readable change list of a revision."""
    if item.kind == "deleted":
        return [f"deleted: absent from complete sweep {item.sweep_id}"]
    lines = change_list(previous_config(item), item.config)
    return ["restored", *lines] if item.kind == "restored" else lines


def revision_doc(item: Work, prev_hash: str | None = None) -> Document:
    """The revision `item` appends; `prev_hash` links it into its group's chain."""
    previous = previous_config(item)
    changed = previous is not None and item.kind in ("changed", "restored")
    return Revision(
        id=item.revision_id,
        key=item.key,
        seq=item.seq,
        account_id=item.account_id,
        region=item.region,
        group_id=item.config.group_id,
        change_type=item.kind,
        fingerprint=item.fingerprint,
        config=item.config,
        attachments=item.attachments,
        diff=diff_text(previous, item.config) if changed and previous is not None else None,
        changes=changes_of(item),
        observed_at=item.observed_at,
        sweep_id=item.sweep_id,
        callers=item.callers,
        prev_hash=prev_hash,
    ).to_mongo()


def work_from_revision(revision: Document, previous: Document | None) -> Work:
    """The work that a stored revision (another writer's) stands for, to complete it."""
    return Work(
        kind=revision["change_type"],
        key=revision["key"],
        seq=int(revision["seq"]),
        config=CanonicalGroup.model_validate(revision["config"]),
        fingerprint=revision["fingerprint"],
        attachments=Attachments.model_validate(revision.get("attachments") or {}),
        observed_at=aware(revision["observed_at"]),
        sweep_id=revision.get("sweep_id"),
        previous=previous,
        account_id=revision["account_id"],
        region=revision["region"],
        callers=[Caller.model_validate(c) for c in revision.get("callers") or []],
        resumed=True,
    )


async def append_revisions(store: Store, work: list[Work], retry: list[Source]) -> list[Work]:
    """Insert the new revisions; resolve those another writer already inserted.

    Returns the work to complete; the sources whose revision lost go to `retry`.
    """
    fresh = [w for w in work if w.is_revision and not w.resumed]
    links = await prev_hashes(store, fresh)
    docs = [revision_doc(w, links[w.revision_id]) for w in fresh]
    refused = await store.insert("revisions", docs)
    if not refused:
        return work
    stored = await store.read("revisions", [docs[i]["_id"] for i in refused])
    replaced: dict[int, Work | None] = {}
    for index in refused:
        mine = fresh[index]
        revision = stored.get(docs[index]["_id"])
        if revision is None:
            # The (key, fingerprint, observed_at) index refused it: already recorded.
            log.warning("observation of %s at %s already recorded", mine.key, mine.observed_at)
            replaced[id(mine)] = None
        elif (
            revision["fingerprint"] == mine.fingerprint
            and aware(revision["observed_at"]) == mine.observed_at
            and revision["change_type"] == mine.kind
        ):
            mine.resumed = True  # ours, from an attempt that did not finish
        elif mine.blind:
            # Decided without the item (absent from the roster: a deleted group, or an
            # attempt that stopped early): decided again on the item.
            replaced[id(mine)] = None
            if mine.source is not None:
                retry.append(mine.source)
        else:
            log.info("completing revision %s found in place of ours", revision["_id"])
            replaced[id(mine)] = work_from_revision(revision, mine.previous)
            if mine.source is not None:
                retry.append(mine.source)
    out: list[Work] = []
    for item in work:
        if id(item) not in replaced:
            out.append(item)
        elif (other := replaced[id(item)]) is not None:
            out.append(other)
    return out
