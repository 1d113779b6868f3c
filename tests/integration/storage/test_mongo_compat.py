"""deploy/local/mongo-compat's own Go tests: a writer that finds SQLite's write lock taken
waits in the program's polling busy handler, not in SQLite's busy_timeout back-off (which
sleeps up to 100 ms at a time while the lock may already be free); its log handler formats
nothing for debug records it discards."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

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
