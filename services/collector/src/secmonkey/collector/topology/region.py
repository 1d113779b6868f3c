"""The topology read of one account-region inside a sweep or an event window.

A topology that cannot be read in full (a missing permission for the new calls, a broken
page chain) is left out rather than sent partial: the sweep still completes, and the
auditor keeps judging the region's groups on the last full topology it stored.
"""

from __future__ import annotations

import logging

from botocore.exceptions import BotoCoreError, ClientError

from secmonkey.collector import metrics
from secmonkey.collector.credentials import AwsClients
from secmonkey.collector.reader import IncompleteRead, RegionRead
from secmonkey.collector.topology import read_topology
from secmonkey.common.documents import Account
from secmonkey.common.topology import Topology

log = logging.getLogger(__name__)


def region_topology(
    clients: AwsClients, account: Account, region: str, read: RegionRead
) -> Topology | None:
    try:
        return read_topology(
            lambda service: clients.client(account, service, region),
            account.id,
            region,
            read.observed_at,
            read.raw_groups,
            read.raw_interfaces,
        )
    except (IncompleteRead, ClientError, BotoCoreError) as exc:
        metrics.AWS_ERRORS.labels("TopologyUnread").inc()
        log.warning(
            "topology of %s/%s not read (%s): exposure keeps the last full topology",
            account.id,
            region,
            exc,
            extra={"account_id": account.id, "region": region},
        )
        return None
