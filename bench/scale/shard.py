"""One shard of the AWS stand-in: a moto server whose accounts are seeded in bulk in its
own process (moto's EC2 backend called directly, no HTTP per group), then served.

    python -m bench.scale.shard --port 5001 --accounts 100000000000,100000000002 \
        --regions us-east-1,eu-west-1 --groups 20

Prints `ready <groups>` on stdout once every group exists.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading

SEED_CIDRS = ("0.0.0.0/0", "10.0.0.0/8", "203.0.113.0/24", "192.168.1.0/24")


def seed(accounts: list[str], regions: list[str], groups: int) -> int:
    """`groups` groups with a few rules in every account-region; returns how many."""
    from moto.ec2.models import ec2_backends

    made = 0
    for account in accounts:
        for region in regions:
            backend = ec2_backends[account][region]
            for n in range(groups):
                group = backend.create_security_group(
                    f"seeded-{n}", f"seeded group {n}", tags={"seed": str(n)}
                )
                port = str(22 + n % 5000)
                backend.authorize_security_group_ingress(
                    group.id, "tcp", port, port, [{"CidrIp": SEED_CIDRS[n % len(SEED_CIDRS)]}]
                )
                made += 1
    return made


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--accounts", default="")
    parser.add_argument("--regions", default="us-east-1")
    parser.add_argument("--groups", type=int, default=20)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from moto.server import ThreadedMotoServer

    accounts = [a for a in args.accounts.split(",") if a]
    made = seed(accounts, args.regions.split(","), args.groups)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    print(f"ready {made}", flush=True)  # noqa: T201
    threading.Event().wait()  # until the rig stops this process
    sys.exit(0)


if __name__ == "__main__":
    main()
