"""`python -m secmonkey.collector`: the collector service under uvicorn."""

from __future__ import annotations

import uvicorn

from secmonkey.collector.app import create_app
from secmonkey.collector.settings import Settings
from secmonkey.common.logs import configure_logging


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
