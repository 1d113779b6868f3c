"""Which accounts are swept: the collector's schedule and every sweep request agree."""

from __future__ import annotations

from secmonkey.common.accounts import is_monitored
from secmonkey.common.documents import Account


def test_trusted_accounts_without_a_role_are_known_but_not_swept() -> None:
    assert is_monitored(Account(id="111111111111", name="a"))
    assert not is_monitored(Account(id="111111111111", name="a", trusted=True))
    assert is_monitored(
        Account(
            id="111111111111",
            name="a",
            trusted=True,
            role_arn="arn:aws:iam::111111111111:role/x",
        )
    )
    assert not is_monitored(Account(id="111111111111", name="a", enabled=False))
