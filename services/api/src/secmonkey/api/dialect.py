"""Which MongoDB-protocol server answers, for the one query form they disagree on.

FerretDB 1.24 refuses `$elemMatch` with several field conditions and evaluates
`{"ranges": {"$elemMatch": {"lo": {"$gte": a, "$lte": b}}}}` as matching nothing, while
MongoDB needs that `$elemMatch` to bound a multikey index on both sides (without it, two
different elements may satisfy the two bounds, so MongoDB uses only one of them).
Everything else the API sends is the same on both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from secmonkey.common.mongo import Database


@dataclass(frozen=True)
class Dialect:
    ferretdb: bool = False

    def element_between(self, array: str, field: str, low: Any, high: Any) -> dict[str, Any]:
        """Some element of the array of documents `array` has `field` within [low, high].

        On FerretDB the dotted form compares within one element; on MongoDB it would
        accept two different elements, and only `$elemMatch` bounds the index scan.
        """
        bounds = {"$gte": low, "$lte": high}
        if self.ferretdb:
            return {f"{array}.{field}": bounds}
        return {array: {"$elemMatch": {field: bounds}}}


async def detect(db: Database) -> Dialect:
    info = await db.client.admin.command("buildInfo")
    return Dialect(ferretdb="ferretdbVersion" in info)
