"""Writes as values: what a service decides to write, before any driver sees it.

A write names the document by `_id` and may carry a `guard`: the state it was decided
on (`{"seq": 4}`). The store applies guards only where the backend makes a conditional
write atomic (`Capabilities.conditional_writes`); elsewhere writers rely on unique
inserts, and on one writer per process, to serialise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import DeleteOne, ReplaceOne, UpdateOne

Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Update:
    """Apply `change` (`$set`, `$max`, `$addToSet`, …) to the document `id`; with
    `upsert`, to a new document `id` if absent (never with a guard, as for `Replace`)."""

    id: str
    change: Document
    guard: Document | None = None
    upsert: bool = False

    def __post_init__(self) -> None:
        if self.upsert and self.guard:
            raise ValueError("a guarded Update cannot upsert")


@dataclass(frozen=True, slots=True)
class Replace:
    """Replace the document `id` with `doc` (without `_id`); with `upsert`, insert it if
    absent (never with a guard: a guarded upsert would insert beside a moved document)."""

    id: str
    doc: Document
    guard: Document | None = None
    upsert: bool = False

    def __post_init__(self) -> None:
        if self.upsert and self.guard:
            raise ValueError("a guarded Replace cannot upsert")


@dataclass(frozen=True, slots=True)
class Delete:
    id: str


WriteOp = Update | Replace | Delete
DriverOp = UpdateOne | ReplaceOne[Document] | DeleteOne


def to_driver(op: WriteOp, conditional: bool) -> DriverOp:
    """The PyMongo operation for `op`, with its guard when writes are `conditional`."""
    query: Document = {"_id": op.id}
    if isinstance(op, Delete):
        return DeleteOne(query)
    if conditional and op.guard:
        query.update(op.guard)
    if isinstance(op, Update):
        return UpdateOne(query, op.change, upsert=op.upsert)
    return ReplaceOne(query, op.doc, upsert=op.upsert)
