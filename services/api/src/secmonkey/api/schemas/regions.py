"""Region names the API accepts: those botocore knows for EC2 (every partition), so a made-up
name is a clear 422 instead of a client the collector would build and cache for nothing."""

from __future__ import annotations

from functools import cache
from typing import Annotated

import botocore.session
from pydantic import AfterValidator, Field

from secmonkey.common.messages import Region

MAX_REGIONS = 64


@cache
def ec2_regions() -> frozenset[str]:
    session = botocore.session.get_session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("ec2", partition_name=partition)
    )


def _known(region: str) -> str:
    if region not in ec2_regions():
        raise ValueError(f"{region!r} is not an EC2 region botocore knows")
    return region


KnownRegion = Annotated[Region, AfterValidator(_known)]
RegionList = Annotated[list[KnownRegion], Field(min_length=1, max_length=MAX_REGIONS)]
