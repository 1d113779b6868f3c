"""`python -m secmonkey.collector discover`: one discovery with the collector's settings."""

from __future__ import annotations

import logging

from secmonkey.collector.credentials import AwsClients
from secmonkey.collector.organizations import Discovery
from secmonkey.collector.settings import Settings
from secmonkey.common.errors import InvalidInput
from secmonkey.common.runtime import Runtime

log = logging.getLogger(__name__)


async def discover_once(settings: Settings) -> int:
    """Enrol the organization's accounts once; prints what changed; the exit status."""
    runtime = await Runtime.open(settings)
    try:
        assert runtime.publisher is not None
        discovery = Discovery(settings, runtime.db, runtime.publisher, AwsClients(settings))
        try:
            result = await discovery.discover()
        except InvalidInput as exc:
            print(f"discover: {exc}")  # noqa: T201
            return 2
    finally:
        await runtime.close()
    print(  # noqa: T201
        f"{result.listed} account(s) in the organization; enrolled: "
        f"{', '.join(result.enrolled) or 'none'}; disabled: {', '.join(result.disabled) or 'none'}"
    )
    return 0
