"""The simulated estate command: fill a moto server, write the accounts file, change it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from secmonkey.collector.accounts import parse_accounts
from secmonkey.collector.reader import read_region
from secmonkey.collector.simulate import ec2_client, simulated_account_ids
from tests.support.servers import MotoServer

pytestmark = pytest.mark.integration


def simulate(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECMONKEY_")}
    done = subprocess.run(
        [sys.executable, "-m", "secmonkey.collector.simulate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_fill_writes_a_loadable_accounts_file_and_change_changes_groups(
    moto: MotoServer, aws_env: None, tmp_path: Path
) -> None:
    accounts_file = tmp_path / "accounts.yaml"
    common = ["--endpoint-url", moto.url, "--accounts", "2", "--regions", "us-east-1"]
    out = simulate("fill", *common, "--groups", "17", "--accounts-file", str(accounts_file))
    assert "filled 2 account(s) x 1 region(s): 34 groups" in out

    loaded = parse_accounts(accounts_file.read_text())
    assert loaded.errors == []
    assert [a.id for a in loaded.accounts] == simulated_account_ids(2)
    assert all(a.role_arn and a.external_id and a.regions == ["us-east-1"] for a in loaded.accounts)

    def fingerprints() -> dict[str, str]:
        found = {}
        for account in simulated_account_ids(2):
            for snap in read_region(ec2_client(moto.url, account, "us-east-1")).groups:
                found[snap.config.group_id] = snap.fingerprint
        return found

    before = fingerprints()
    rules = [
        r
        for s in read_region(ec2_client(moto.url, simulated_account_ids(1)[0], "us-east-1")).groups
        for r in s.config.rules
    ]
    # The first groups of a region take every shape: the audit has something to find.
    assert {r.source_kind for r in rules} == {"cidr4", "cidr6", "group", "prefix_list"}
    assert any(r.source == "0.0.0.0/0" and r.port_range == (22, 22) for r in rules)
    assert any(r.source == "::/0" for r in rules)

    out = simulate("change", *common, "--changes", "4", "--seed", "11")
    assert out.count("change: ") == 4
    after = fingerprints()
    assert after != before
