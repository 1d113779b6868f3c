"""Every collection has one owner: the only service that writes it, except through the
named `secmonkey.common` functions declared beside it. If this drifts, two services write
one collection in two ways, and a change to its shape breaks the one nobody looked at."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from secmonkey.common.storage.collections import (
    COLLECTIONS,
    Service,
    owned_by,
    written_through_common,
)

ROOT = Path(__file__).resolve().parents[3]
SERVICES: list[Service] = ["collector", "auditor", "notifier", "api"]
_WRITES = (
    "insert_one|insert_many|update_one|update_many|delete_one|delete_many|replace_one"
    "|find_one_and_update|find_one_and_delete|find_one_and_replace|bulk_write"
)
_PATTERNS = [
    re.compile(rf"\bdb\.(\w+)\.(?:{_WRITES})\b"),
    re.compile(rf"\bdb\[(\w+)\]\.(?:{_WRITES})\b"),
    re.compile(r"\.(?:insert|update|delete|delete_later|write|claim)\(\s*\"(\w+)\""),
    re.compile(r"insert_unique\(\s*(?:self\.)?db\.(\w+)"),
]


def direct_writes(service: str) -> set[str]:
    """The collections a service's own code writes (by the forms this codebase uses)."""
    found: set[str] = set()
    for path in (ROOT / "services" / service / "src").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        constants = dict(re.findall(r'^(\w+) = "(\w+)"', text, flags=re.M))
        for pattern in _PATTERNS:
            for name in pattern.findall(text):
                found.add(constants.get(name, name))
    return found & set(COLLECTIONS)


def readme_row(service: str, label: str) -> set[str]:
    """The collections named (in backticks) in one row of the service README's table."""
    text = (ROOT / "services" / service / "README.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith(f"| {label} |")]
    assert len(rows) == 1, f"services/{service}/README.md needs one '| {label} |' row"
    return set(re.findall(r"`(\w+)`", rows[0])) & set(COLLECTIONS)


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_writes_directly_only_what_it_owns(service: Service) -> None:
    assert direct_writes(service) <= owned_by(service)


@pytest.mark.parametrize("service", SERVICES)
def test_each_readme_says_what_its_service_writes(service: Service) -> None:
    assert readme_row(service, "writes") == owned_by(service)
    assert readme_row(service, "writes through common") == written_through_common(service)


def test_every_shared_write_is_a_named_common_function() -> None:
    for name, collection in COLLECTIONS.items():
        for _, function in collection.shared_writes:
            module, attribute = function.rsplit(".", 1)
            target = importlib.import_module(f"secmonkey.common.{module}")
            assert callable(getattr(target, attribute, None)), (name, function)
