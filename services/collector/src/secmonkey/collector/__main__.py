"""`python -m secmonkey.collector`: the collector service under uvicorn;
`python -m secmonkey.collector discover`: enrol the AWS organization's accounts once."""

from __future__ import annotations

import asyncio
import sys

import uvicorn

from secmonkey.collector.app import create_app
from secmonkey.collector.settings import Settings
from secmonkey.common.logs import configure_logging


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    if args[:1] == ["discover"]:
        from secmonkey.collector.organizations.once import discover_once

        sys.exit(asyncio.run(discover_once(settings)))
    if args:
        sys.exit(f"usage: python -m secmonkey.collector [discover]; not {' '.join(args)!r}")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
