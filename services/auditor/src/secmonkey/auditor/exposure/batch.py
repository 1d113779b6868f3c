"""What a SnapshotBatch goes through before it is decided: its topology is stored, and
every group's attachments gain the exposure the latest topology implies; the exposed
endpoints are filed for the API (`exposures`)."""

from __future__ import annotations

from secmonkey.auditor.exposure.endpoints import EndpointFiler, Filing
from secmonkey.auditor.exposure.store import Topologies, enrich
from secmonkey.common.item_keys import item_key
from secmonkey.common.messages import Event, SnapshotBatch
from secmonkey.common.storage import Database


class BatchExposure:
    def __init__(self, db: Database, *, own_places: bool = False) -> None:
        self.topologies = Topologies(db, own_places=own_places)
        self.filer = EndpointFiler(db, own_places=own_places)

    async def prepare(
        self, batches: list[SnapshotBatch], new: dict[tuple[str, str], list[str]]
    ) -> None:
        """Store the batches' topologies (where newer) and enrich their groups in place;
        `new`: by account-region, the group ids nothing was filed for yet (absent from the
        roster). The batches are of distinct account-regions: each step is one read or
        write for all of them."""
        await self.topologies.save_all([b.topology for b in batches if b.topology is not None])
        with_groups = [b for b in batches if b.groups]
        indexes = await self.topologies.latest_all([(b.account_id, b.region) for b in with_groups])
        filings: list[Filing] = []
        for batch in with_groups:
            place = (batch.account_id, batch.region)
            index = indexes[place]
            if index is None:
                continue  # no topology yet: the attached/public-IP step applies
            batch.groups = [
                g.model_copy(update={"attachments": enrich(g.attachments, g.config, index)})
                for g in batch.groups
            ]
            snapshots = {item_key(*place, g.config.group_id): g for g in batch.groups}
            unfiled = {item_key(*place, g) for g in new.get(place, [])}
            filings.append(Filing(snapshots, *place, batch.observed_at, unfiled))
        await self.filer.file_all(filings)

    async def forget(self, events: list[Event]) -> None:
        """A deleted group exposes nothing any more."""
        gone = [e.key for e in events if e.type == "group.deleted"]
        if gone:
            await self.filer.forget(gone)
