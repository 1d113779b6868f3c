"""An item's key, `aws:<account>:<region>:<group id>`, and its parts."""

from __future__ import annotations


def item_key(account_id: str, region: str, group_id: str) -> str:
    return f"aws:{account_id}:{region}:{group_id}"


def key_parts(key: str) -> tuple[str, str, str]:
    """The account, region and group ID of an item key."""
    _, account_id, region, group_id = key.split(":", 3)
    return account_id, region, group_id


def group_id_of(key: str) -> str:
    """The group ID of an item key."""
    return key_parts(key)[2]
