"""`python -m secmonkey.collector.simulate`: fill a moto server with an estate, change it.

    # an estate in a running moto server, and the accounts file for the collector
    python -m secmonkey.collector.simulate fill --endpoint-url http://127.0.0.1:5055 \\
        --accounts 3 --regions us-east-1,eu-west-1 --groups 25 --accounts-file accounts.yaml
    # five random changes to it
    python -m secmonkey.collector.simulate change --endpoint-url http://127.0.0.1:5055 \\
        --accounts 3 --regions us-east-1,eu-west-1 --changes 5
    # start a moto server, fill it, and change it every 30 s until stopped (make run)
    python -m secmonkey.collector.simulate serve --port 5055 --accounts-file accounts.yaml \\
        --changes 3 --change-every 30
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from secmonkey.collector.simulate import (
    DEFAULT_REGIONS,
    EXTERNAL_ID,
    add_exposure_network,
    add_flow_logs,
    apply_changes,
    fill_estate,
    simulated_account_ids,
)

log = logging.getLogger("secmonkey.collector.simulate")


def _regions(text: str) -> list[str]:
    return [r.strip() for r in text.split(",") if r.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m secmonkey.collector.simulate",
        description="A simulated AWS estate (security groups) in a moto server.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, endpoint: bool = True) -> None:
        if endpoint:
            p.add_argument("--endpoint-url", required=True, help="the moto server's URL")
        p.add_argument("--accounts", type=int, default=2, help="number of accounts (default 2)")
        p.add_argument(
            "--regions",
            type=_regions,
            default=list(DEFAULT_REGIONS),
            help="comma-separated regions (default us-east-1,eu-west-1)",
        )
        p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        p.add_argument("--external-id", default=EXTERNAL_ID, help="ExternalId of the roles")

    def filling(p: argparse.ArgumentParser) -> None:
        p.add_argument("--groups", type=int, default=20, help="groups per region (default 20)")
        p.add_argument("--accounts-file", type=Path, help="write the collector's accounts YAML")
        p.add_argument(
            "--no-exposure",
            dest="exposure",
            action="store_false",
            help="skip the public/private subnets, gateway, NACL and load balancer",
        )

    fill = sub.add_parser("fill", help="create the estate in a running moto server")
    common(fill)
    filling(fill)

    change = sub.add_parser("change", help="apply random changes to a filled estate")
    common(change)
    change.add_argument("--changes", type=int, default=5, help="how many changes (default 5)")

    serve = sub.add_parser("serve", help="run a moto server, fill it, keep changing it")
    common(serve, endpoint=False)
    filling(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5055)
    serve.add_argument("--changes", type=int, default=3, help="changes per round (default 3)")
    serve.add_argument(
        "--change-every", type=float, default=60.0, help="seconds between rounds (0: never)"
    )
    return parser


def _fill(args: argparse.Namespace, endpoint_url: str) -> None:
    started = time.monotonic()
    estate = fill_estate(
        endpoint_url,
        args.accounts,
        args.regions,
        args.groups,
        seed=args.seed,
        external_id=args.external_id,
    )
    if args.exposure:
        add_exposure_network(endpoint_url, estate.account_ids, estate.regions[0], args.external_id)
    log.info(
        "filled %d account(s) x %d region(s): %d groups in %.1fs",
        len(estate.account_ids),
        len(estate.regions),
        estate.group_count,
        time.monotonic() - started,
    )
    add_flow_logs(estate, seed=args.seed)
    if args.accounts_file:
        estate.write_accounts_file(args.accounts_file)
        log.info("accounts file: %s (SECMONKEY_ACCOUNTS_FILE)", args.accounts_file)


def _change(args: argparse.Namespace, endpoint_url: str, seed: int | None) -> None:
    for line in apply_changes(
        endpoint_url,
        simulated_account_ids(args.accounts),
        args.regions,
        args.changes,
        seed=seed,
        external_id=args.external_id,
    ):
        log.info("change: %s", line)


def _serve(args: argparse.Namespace) -> None:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:  # moto is a development dependency
        sys.exit("moto is not installed: uv sync --all-packages (the dev group) brings it")
    # The estate never uses AMIs; without them each new account-region starts much faster.
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    endpoint_url = f"http://{args.host}:{args.port}"
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        _fill(args, endpoint_url)
        log.info("moto server at %s (SECMONKEY_AWS_ENDPOINT_URL)", endpoint_url)
        rounds = 0
        while not stop.wait(args.change_every if args.change_every > 0 else 3600):
            if args.change_every > 0 and args.changes > 0:
                rounds += 1
                _change(args, endpoint_url, seed=args.seed * 1_000_003 + rounds)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for noisy in ("werkzeug", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The simulator acts as moto's default account; dummy keys unless real ones are set.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    if args.command == "fill":
        _fill(args, args.endpoint_url)
    elif args.command == "change":
        _change(args, args.endpoint_url, seed=None if args.seed == 0 else args.seed)
    else:
        _serve(args)


if __name__ == "__main__":
    main()
