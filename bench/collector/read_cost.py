"""Benchmark: what the exposure reads (issue 16) add to reading an account-region, without
RabbitMQ or the database: 2 accounts x 2 regions x `--groups` groups on one moto server,
the 4 account-regions read at once (as the sweep does), three ways, alternating:
the groups alone; the groups then the topology (the order before the topology was read
beside the groups); the topology beside the groups (`read_region_with_topology`, what the
sweep does). Round 0 warms the clients (the service keeps them) and is not counted; the
medians of the other rounds are compared. Timings are reported, never asserted.
Last line: `RESULT exposure_read_cost_before=<x> exposure_read_cost_after=<y>`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
REGIONS = ["us-east-1", "eu-west-1"]
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def variants() -> dict[str, Any]:
    from secmonkey.collector.reader import read_region
    from secmonkey.collector.topology import read_topology
    from secmonkey.collector.topology.region import read_region_with_topology

    def groups_only(clients: Any, account: Any, region: str) -> Any:
        return read_region(clients.client(account, "ec2", region))

    def before(clients: Any, account: Any, region: str) -> Any:
        read = read_region(clients.client(account, "ec2", region))
        read.topology = read_topology(
            lambda service: clients.client(account, service, region),
            account.id,
            region,
            read.observed_at,
            read.raw_groups,
            read.raw_interfaces,
        )
        return read

    def after(clients: Any, account: Any, region: str) -> Any:
        return read_region_with_topology(clients, account, region)

    return {"groups only": groups_only, "groups then topology": before, "beside": after}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=250, help="groups per account-region")
    parser.add_argument("--rounds", type=int, default=3, help="counted rounds")
    args = parser.parse_args()
    os.environ.update(AWS_ENV)
    from bench.collector.run import free_port, start_moto
    from secmonkey.collector.credentials import AwsClients
    from secmonkey.collector.settings import Settings
    from secmonkey.collector.simulate import fill_estate
    from secmonkey.common.documents import Account

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto = start_moto(port)
    try:
        began = time.monotonic()
        estate = fill_estate(endpoint, 2, REGIONS, args.groups, seed=42, attach_share=0.3)
        print(f"estate in {time.monotonic() - began:.0f}s", flush=True)
        accounts = [Account.model_validate({**e, "_id": e["id"]}) for e in estate.account_entries()]
        work = [(a, r) for a in accounts for r in REGIONS]
        ways = variants()
        clients = {name: AwsClients(Settings(aws_endpoint_url=endpoint)) for name in ways}
        times: dict[str, list[float]] = {name: [] for name in ways}
        for n in range(args.rounds + 1):
            for name, read in ways.items():
                began = time.monotonic()
                with ThreadPoolExecutor(len(work)) as pool:
                    reads = list(pool.map(lambda w, f=read, c=clients[name]: f(c, *w), work))
                seconds = time.monotonic() - began
                if name != "groups only" and any(r.topology is None for r in reads):
                    raise RuntimeError(f"{name}: a topology was not read")
                if n > 0:
                    times[name].append(seconds)
                print(
                    f"round {n} {name}: {seconds:.2f}s (load {os.getloadavg()[0]:.1f})", flush=True
                )
    finally:
        moto.terminate()
        moto.wait(20)
    base = statistics.median(times["groups only"])
    cost = {name: statistics.median(t) / base for name, t in times.items()}
    for name, t in times.items():
        print(f"median {name}: {statistics.median(t):.2f}s, x{cost[name]:.3f}")
    print(
        f"RESULT exposure_read_cost_before={cost['groups then topology']:.3f} "
        f"exposure_read_cost_after={cost['beside']:.3f}"
    )


if __name__ == "__main__":
    main()
