"""Every collection a service touches is declared: owned, written through a named
`secmonkey.common` function, or read (`readers`). The database roles of
`secmonkey admin provision` come from these declarations, so a read that is not declared
here is a service refused by MongoDB in production (and only there: FerretDB has no
authorization)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from secmonkey.common.storage.collections import (
    COLLECTIONS,
    Service,
    owned_by,
    read_by,
    written_through_common,
)

ROOT = Path(__file__).resolve().parents[3]
COMMON = ROOT / "libs" / "common" / "src" / "secmonkey" / "common"
SERVICES: list[Service] = ["collector", "auditor", "notifier", "api"]
_CALLS = (
    "find|find_one|count_documents|estimated_document_count|aggregate|distinct"
    "|index_information|insert_one|insert_many|update_one|update_many|delete_one|delete_many"
    "|replace_one|find_one_and_update|find_one_and_delete|find_one_and_replace|bulk_write"
)
_PATTERNS = [
    re.compile(rf"\bdb\.(\w+)\.(?:{_CALLS})\b"),
    re.compile(rf"\bdb\[(\w+)\]\.(?:{_CALLS})\b"),
    re.compile(r"\bdb\[\"(\w+)\"\]"),
    re.compile(r"\.(?:read|insert|update|delete|delete_later|write|claim)\(\s*\"(\w+)\""),
    re.compile(r"insert_unique\(\s*(?:self\.)?db\.(\w+)"),
]
_IMPORTS = re.compile(
    r"from secmonkey\.common(?:\.(\w+(?:\.\w+)*))? import ([\w, ()\n]+)", flags=re.M
)


def touched(paths: list[Path]) -> set[str]:
    found: set[str] = set()
    for path in paths:
        text = path.read_text(encoding="utf-8")
        constants = dict(re.findall(r'^(\w+) = "(\w+)"', text, flags=re.M))
        for pattern in _PATTERNS:
            for name in pattern.findall(text):
                found.add(constants.get(name, name))
    return found & set(COLLECTIONS)


def functions(module: Path) -> dict[str, str]:
    """A module's top-level functions and classes, each with its source."""
    text = module.read_text(encoding="utf-8")
    parts = re.split(r"^(?=(?:async def|def|class) )", text, flags=re.M)
    out: dict[str, str] = {}
    for part in parts[1:]:
        name = re.match(r"(?:async def|def|class) (\w+)", part)
        if name:
            out[name.group(1)] = part
    return out


def through_common(paths: list[Path]) -> set[str]:
    """What the `secmonkey.common` functions these files call touch (storage seam aside):
    `from secmonkey.common.m import f` or `m.f(` after `from secmonkey.common import m`."""
    found: set[str] = set()
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for package, names in _IMPORTS.findall(text):
            for name in filter(None, re.split(r"[\s,()]+", names)):
                module = COMMON.joinpath(*package.split(".")) if package else COMMON / name
                if "storage" in module.parts:
                    continue
                if module.with_suffix(".py").is_file() and package:
                    used = {name}
                    source = module.with_suffix(".py")
                elif module.with_suffix(".py").is_file():
                    used = set(re.findall(rf"\b{name}\.(\w+)", text))
                    source = module.with_suffix(".py")
                else:
                    continue
                defined = functions(source)
                found |= touched_text("".join(defined.get(f, "") for f in used), source)
    return found


def touched_text(text: str, path: Path) -> set[str]:
    constants = dict(re.findall(r'^(\w+) = "(\w+)"', path.read_text(encoding="utf-8"), re.M))
    found: set[str] = set()
    for pattern in _PATTERNS:
        for name in pattern.findall(text):
            found.add(constants.get(name, name))
    return found & set(COLLECTIONS)


def accessed(service: str) -> set[str]:
    own = sorted((ROOT / "services" / service / "src").rglob("*.py"))
    return touched(own) | through_common(own)


@pytest.mark.parametrize("service", SERVICES)
def test_every_collection_a_service_touches_is_declared(service: Service) -> None:
    declared = owned_by(service) | written_through_common(service) | read_by(service)
    assert accessed(service) - declared == set()


@pytest.mark.parametrize("service", SERVICES)
def test_each_readme_reads_row_is_declared(service: Service) -> None:
    text = (ROOT / "services" / service / "README.md").read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| reads |"))
    named = set(re.findall(r"`(\w+)`", row)) & set(COLLECTIONS)
    declared = owned_by(service) | written_through_common(service) | read_by(service)
    assert named - declared == set()


def test_readers_are_other_services() -> None:
    for name, collection in COLLECTIONS.items():
        assert collection.owner not in collection.readers, name
        assert len(set(collection.readers)) == len(collection.readers), name
