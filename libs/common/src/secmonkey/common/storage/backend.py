"""Which database answers, found once at start and exposed as capabilities.

Service code asks what the backend can do (`capabilities_of(db).conditional_writes`),
never which backend it is. Production runs MongoDB 7+; tests and `make run` run FerretDB
1.24 over SQLite (deploy/local). Anything else (Amazon DocumentDB, Azure Cosmos DB, …)
is refused at start unless its capabilities are set explicitly with
`SECMONKEY_STORAGE_CAPABILITIES` (also the way to force a capability in a test).
"""

from __future__ import annotations

import dataclasses
import logging
import weakref
from dataclasses import dataclass, fields
from typing import Any

from pymongo import AsyncMongoClient

from secmonkey.common.errors import PermanentError

log = logging.getLogger(__name__)

Document = dict[str, Any]


class UnsupportedBackend(PermanentError):
    """The database is neither MongoDB nor FerretDB and no capabilities were set."""


@dataclass(frozen=True)
class Capabilities:
    """What the database does, as far as secmonkey's queries care.

    - `conditional_writes`: an update filtered on more than `_id` is atomic against
      concurrent writers, so a write can be guarded on the state it read (MongoDB). FerretDB
      1.24 applies an update as read-modify-write without isolation.
    - `indexed_filters`: filters other than `{_id: <string>}` (`$in` on `_id`, ranges,
      compound keys) are served from indexes. FerretDB 1.24 scans for them, so there a batch
      is read as point lookups.
    - `element_match`: `$elemMatch` with several conditions on one array element works;
      FerretDB 1.24 refuses it (and the dotted form compares within one element there).
    - `large_bulk_writes`: an update command may match hundreds of documents. FerretDB 1.24
      keeps one SQLite connection per matched document open until the command ends (100 per
      database), so there bulk writes go in small chunks, one command at a time.
    - `indexed_id_lists`: `{_id: {$in: [up to 1,000 ids]}}` is served from the `_id` index,
      so a batch is read in one command. MongoDB does; FerretDB 1.24 reads every document
      of the collection for it, except as built by deploy/local/mongo-compat, whose patch
      pushes the list down to SQLite and says so in `buildInfo` (`idInPushdown`).
    """

    conditional_writes: bool
    indexed_filters: bool
    element_match: bool
    large_bulk_writes: bool
    indexed_id_lists: bool = False
    backend: str = "configured"

    @classmethod
    def mongodb(cls) -> Capabilities:
        return cls(True, True, True, True, True, backend="mongodb")

    @classmethod
    def ferretdb(cls, id_lists: bool = False) -> Capabilities:
        return cls(False, False, False, False, id_lists, backend="ferretdb")

    @classmethod
    def parse(cls, text: str) -> Capabilities:
        """`conditional_writes,indexed_filters,…` (the ones the backend has), or `none`."""
        names = {f.name for f in fields(cls) if f.type == "bool"}
        given = {part.strip() for part in text.split(",") if part.strip()} - {"none"}
        unknown = given - names
        if unknown:
            raise ValueError(
                f"unknown storage capabilities {sorted(unknown)}; known: {sorted(names)}"
            )
        return cls(
            conditional_writes="conditional_writes" in given,
            indexed_filters="indexed_filters" in given,
            element_match="element_match" in given,
            large_bulk_writes="large_bulk_writes" in given,
            indexed_id_lists="indexed_id_lists" in given,
        )

    def with_(self, **changes: Any) -> Capabilities:
        """The same capabilities with some forced (tests force MongoDB's guarded writes)."""
        return dataclasses.replace(self, **changes)


def classify(build_info: Document) -> Capabilities | None:
    """The capabilities of a known backend from its `buildInfo`, or None if unknown."""
    if "ferretdbVersion" in build_info:
        features = build_info.get("ferretdbFeatures") or {}
        return Capabilities.ferretdb(id_lists=features.get("idInPushdown") is True)
    # mongod and mongos describe their allocator and storage engines; the compatible
    # services that imitate `buildInfo` do not.
    if build_info.get("gitVersion") and {"allocator", "storageEngines"} <= set(build_info):
        return Capabilities.mongodb()
    return None


# By identity: clients compare equal by address, so a dict keyed on them would let an
# old client's entry (and its removal when collected) stand for a new one.
_known: dict[int, Capabilities] = {}


def _remember(client: AsyncMongoClient[Document], caps: Capabilities) -> None:
    if id(client) not in _known:
        weakref.finalize(client, _known.pop, id(client), None)
    _known[id(client)] = caps


async def detect(
    client: AsyncMongoClient[Document], configured: str | Capabilities | None = None
) -> Capabilities:
    """Find what the server behind `client` can do, once; later calls and
    `capabilities_of` answer from memory. `configured` (the setting) wins over detection
    and is the only way to run on a backend `classify` does not know."""
    if isinstance(configured, Capabilities):
        caps = configured
    elif configured:
        caps = Capabilities.parse(configured)
    elif id(client) in _known:
        return _known[id(client)]
    else:
        info = await client.admin.command("buildInfo")
        found = classify(info)
        if found is None:
            raise UnsupportedBackend(
                f"the database at {client.address} is not MongoDB or FerretDB "
                f"(buildInfo version {info.get('version')!r}); secmonkey does not know which "
                "of its queries it serves correctly. Set SECMONKEY_STORAGE_CAPABILITIES to "
                "the capabilities it has (conditional_writes, indexed_filters, "
                "element_match, large_bulk_writes, indexed_id_lists, or none) to run on it "
                "anyway."
            )
        caps = found
        log.info("storage backend: %s", caps.backend)
    _remember(client, caps)
    return caps


def capabilities_of(client: AsyncMongoClient[Document]) -> Capabilities:
    """The capabilities `detect` found for this client."""
    try:
        return _known[id(client)]
    except KeyError:
        raise RuntimeError(
            "storage capabilities not detected for this client: "
            "`await storage.detect(client)` at start (Runtime.open does)"
        ) from None
