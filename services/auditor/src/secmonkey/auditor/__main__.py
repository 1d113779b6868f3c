"""`python -m secmonkey.auditor`: the auditor service under uvicorn."""

from __future__ import annotations

import sys

import uvicorn

from secmonkey.auditor.app import create_app
from secmonkey.auditor.rules.rules_file import RulesFileError, load_rules
from secmonkey.auditor.settings import Settings
from secmonkey.common.logs import configure_logging


def main() -> int:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    try:
        rules = load_rules(settings.rules_file)
    except RulesFileError as exc:
        print(f"secmonkey auditor: refusing to start: {exc}", file=sys.stderr)
        return 2
    app = create_app(settings, rules)
    uvicorn.run(
        app,
        host=settings.auditor_host,
        port=settings.auditor_port,
        log_config=None,
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
