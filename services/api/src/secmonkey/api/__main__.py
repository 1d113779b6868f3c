"""`python -m secmonkey.api` serves the API; `python -m secmonkey.api create-key` mints a key."""

from __future__ import annotations

import argparse
import asyncio
import sys

import uvicorn

from secmonkey.api.app import create_app
from secmonkey.api.auth import create_key
from secmonkey.api.settings import Settings
from secmonkey.common import storage
from secmonkey.common.logs import configure_logging


async def _create_key(settings: Settings, name: str, role: str) -> str:
    client = storage.connect(
        settings.mongo_url, operation_timeout_seconds=settings.mongo_timeout_seconds
    )
    try:
        db = client[settings.mongo_db]
        if settings.declare_at_start:  # else made by `secmonkey admin provision`
            await storage.ensure_indexes(db)
        _, key = await create_key(db, name, role)  # type: ignore[arg-type]
        return key
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m secmonkey.api")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve the API (the default)")
    create = commands.add_parser("create-key", help="create an API key and print it once")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--role", choices=("viewer", "auditor", "admin", "reviewer"), default="admin"
    )
    args = parser.parse_args(argv)

    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    if args.command == "create-key":
        key = asyncio.run(_create_key(settings, args.name, args.role))
        print(key)
        print(
            f"created {args.role} key {args.name!r}; it is shown only now, store it safely",
            file=sys.stderr,
        )
        return 0
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
