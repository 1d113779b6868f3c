"""The simulated estate keeps changing when a change finds its group gone: a crash there
took the simulated AWS down with it, and `make run` stopped alerting."""

from __future__ import annotations

import random
from typing import Any

import pytest
from botocore.exceptions import ClientError

from secmonkey.collector.simulate._changes import random_change


class GoneEc2:
    """An EC2 client whose groups were all deleted between the listing and the change."""

    def __init__(self, code: str) -> None:
        self.code = code

    def describe_security_groups(self, **_: Any) -> dict[str, Any]:
        return {"SecurityGroups": [{"GroupId": "sg-1", "VpcId": "vpc-1", "IpPermissions": []}]}

    def describe_network_interfaces(self, **_: Any) -> dict[str, Any]:
        return {"NetworkInterfaces": []}

    def __getattr__(self, name: str) -> Any:
        def refuse(**_: Any) -> None:
            raise ClientError({"Error": {"Code": self.code, "Message": "gone"}}, name)

        return refuse


def test_a_change_whose_group_is_gone_is_skipped() -> None:
    for seed in range(20):  # every kind of change
        said = random_change(GoneEc2("InvalidGroup.NotFound"), random.Random(seed))
        assert said == "skipped a change: InvalidGroup.NotFound"


def test_other_errors_still_stop_the_generator() -> None:
    with pytest.raises(ClientError):
        for seed in range(20):
            random_change(GoneEc2("UnauthorizedOperation"), random.Random(seed))
