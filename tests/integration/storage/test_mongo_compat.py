"""deploy/local/mongo-compat's own Go tests: a writer that finds SQLite's write lock taken
waits in the program's polling busy handler, not in SQLite's busy_timeout back-off (which
sleeps up to 100 ms at a time while the lock may already be free); its log handler formats
nothing for debug records it discards. And, on the running server, the `_id` index its
FerretDB patch creates."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from secmonkey.common.storage import Database

pytestmark = pytest.mark.integration

SOURCE = Path(__file__).resolve().parents[3] / "deploy" / "local" / "mongo-compat"


def test_go_tests_of_mongo_compat_pass() -> None:
    go = shutil.which("go")
    assert go, "Go is needed: deploy/local/up.sh builds mongo-compat with it"
    done = subprocess.run(
        [go, "test", "-count=1", "./..."],
        cwd=SOURCE,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("ok"), done.stdout


async def test_an_id_lookup_uses_the_id_index_from_a_collections_creation(
    db: Database, unique: str
) -> None:
    """patches/ferretdb-id-index.patch: FerretDB's own `_id` index is on the expression
    that `_id` lookups are pushed down as, so a new collection's lookups are served by it
    at once, and a write maintains one `_id` index, not two (the keeper in idindex.go adds
    its own only to tables of older files)."""
    name = f"compat_{unique}"
    try:
        await db[name].insert_one({"_id": "a", "v": 1})
        assert await db[name].find_one({"_id": "a"}) == {"_id": "a", "v": 1}
        explained = await db.command("explain", {"find": name, "filter": {"_id": "a"}})
        if "filterPushdown" not in explained:
            pytest.fail("the local server should be mongo-compat (FerretDB's explain)")
        plan = " ".join(explained["queryPlanner"]["Plan"])
        assert "USING INDEX" in plan and plan.rstrip().endswith("__id_ (<expr>=?)"), plan
        assert "secmonkey_id" not in plan, plan
    finally:
        await db.drop_collection(name)
