"""What a SnapshotBatch goes through before it is decided: its topology is stored, and
every group's attachments gain the exposure the latest topology implies; the exposed
endpoints are filed for the API (`exposures`)."""

from __future__ import annotations

from secmonkey.auditor.exposure.endpoints import EndpointFiler
from secmonkey.auditor.exposure.store import Topologies, enrich
from secmonkey.common.item_keys import item_key
from secmonkey.common.messages import Event, SnapshotBatch
from secmonkey.common.storage import Database


class BatchExposure:
    def __init__(self, db: Database, *, own_places: bool = False) -> None:
        self.topologies = Topologies(db, own_places=own_places)
        self.filer = EndpointFiler(db, own_places=own_places)

    async def prepare(
        self, batch: SnapshotBatch, new: set[str] | frozenset[str] = frozenset()
    ) -> None:
        """Store the batch's topology (if newer) and enrich its groups in place; `new`:
        the group ids nothing was filed for yet (absent from the place's roster)."""
        if batch.topology is not None:
            await self.topologies.save(batch.topology)
        if not batch.groups:
            return
        index = await self.topologies.latest(batch.account_id, batch.region)
        if index is None:
            return  # no topology yet: the attached/public-IP step applies
        batch.groups = [
            g.model_copy(update={"attachments": enrich(g.attachments, g.config, index)})
            for g in batch.groups
        ]
        await self.filer.file(
            {item_key(batch.account_id, batch.region, g.config.group_id): g for g in batch.groups},
            batch.account_id,
            batch.region,
            batch.observed_at,
            unfiled={item_key(batch.account_id, batch.region, g) for g in new},
        )

    async def forget(self, events: list[Event]) -> None:
        """A deleted group exposes nothing any more."""
        gone = [e.key for e in events if e.type == "group.deleted"]
        if gone:
            await self.filer.forget(gone)
