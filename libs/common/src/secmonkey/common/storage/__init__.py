"""The storage seam: the only code that knows which database backend answers.

- `backend`: detection once at start, exposed as `Capabilities`;
- `client`: connecting, indexes, ping; `collections`: every collection's owner and indexes;
- `store`: batched reads by `_id`, bulk writes with optional guards (`ops`), unique inserts
  (`insert_unique`), deletes by `_id` from small collections (`delete_small`);
- `errors`: the one classification of transient errors and the duplicate-key code;
- `retry`: the one retry helper; `filters`: typed filters;
- `group_commit`: one writer task that batches many callers' small writes;
- `packed`: a list of subdocuments stored as one value (rewritten whole, never filtered).
"""

from secmonkey.common.storage.backend import (
    Capabilities,
    Document,
    UnsupportedBackend,
    capabilities_of,
    detect,
)
from secmonkey.common.storage.client import (
    Database,
    connect,
    ensure_indexes,
    missing_indexes,
    ping,
    wanted_indexes,
)
from secmonkey.common.storage.collections import COLLECTIONS, INDEXES
from secmonkey.common.storage.errors import is_duplicate_key, is_transient
from secmonkey.common.storage.ops import Delete, Replace, Update, WriteOp
from secmonkey.common.storage.packed import pack, unpack
from secmonkey.common.storage.retry import with_retry
from secmonkey.common.storage.store import Store, insert_unique

__all__ = [
    "COLLECTIONS",
    "INDEXES",
    "Capabilities",
    "Database",
    "Delete",
    "Document",
    "Replace",
    "Store",
    "UnsupportedBackend",
    "Update",
    "WriteOp",
    "capabilities_of",
    "connect",
    "detect",
    "ensure_indexes",
    "missing_indexes",
    "wanted_indexes",
    "insert_unique",
    "pack",
    "unpack",
    "is_duplicate_key",
    "is_transient",
    "ping",
    "with_retry",
]
