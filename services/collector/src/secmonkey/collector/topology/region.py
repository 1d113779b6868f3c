"""The topology read of one account-region inside a sweep or an event window.

A topology that cannot be read in full (a missing permission for the new calls, a broken
page chain) is left out rather than sent partial: the sweep still completes, and the
auditor keeps judging the region's groups on the last full topology it stored.

`read_region_with_topology` runs the topology's reads beside the group read (they need
nothing from it), then joins them with its groups and interfaces: the extra calls cost
wall time only where they outlast `DescribeSecurityGroups` and its two companions, and
the network path's (read only when something could be reached) where they follow them.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import BotoCoreError, ClientError

from secmonkey.collector import metrics
from secmonkey.collector.credentials import AwsClients
from secmonkey.collector.reader import IncompleteRead, RegionRead, read_region
from secmonkey.collector.topology import ClientFor, PendingSurroundings, assemble
from secmonkey.common.documents import Account

log = logging.getLogger(__name__)


def _unread(account_id: str, region: str, exc: Exception) -> None:
    metrics.AWS_ERRORS.labels("TopologyUnread").inc()
    log.warning(
        "topology of %s/%s not read (%s): exposure keeps the last full topology",
        account_id,
        region,
        exc,
        extra={"account_id": account_id, "region": region},
    )


def read_with_topology(client_for: ClientFor, account_id: str, region: str) -> RegionRead:
    """The region's groups (raises unless read in full, like `read_region`) with its
    topology (None when it could not be read in full), both read at once. `client_for`
    is called from several threads (`AwsClients.client` may be)."""
    ec2 = client_for("ec2")
    with ThreadPoolExecutor(max_workers=6, thread_name_prefix="topology") as pool:
        pending = PendingSurroundings(client_for, pool)
        read = read_region(ec2)  # on a failure the pool still finishes its reads first
        try:
            found = pending.result()
            read.topology = assemble(
                found,
                ec2,
                account_id,
                region,
                read.observed_at,
                read.raw_groups,
                read.raw_interfaces,
                pool,
            )
        except (IncompleteRead, ClientError, BotoCoreError) as exc:
            _unread(account_id, region, exc)
    return read


def read_region_with_topology(clients: AwsClients, account: Account, region: str) -> RegionRead:
    """`read_with_topology` with the account's clients."""
    return read_with_topology(
        lambda service: clients.client(account, service, region), account.id, region
    )
