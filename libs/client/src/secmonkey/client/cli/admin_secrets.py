"""`secmonkey admin rotate-secrets`: run where the database and the encryption keys are
(an operator's shell or a Kubernetes job), not through the API: it re-seals every stored
credential under the first of `SECMONKEY_ENCRYPTION_KEYS`."""

from __future__ import annotations

import asyncio

import typer

from secmonkey.client.cli._output import console


async def _rotate() -> int:
    from secmonkey.common import sealed, storage
    from secmonkey.common.rotation import rotate_secrets
    from secmonkey.common.settings import CommonSettings

    class _Settings(CommonSettings):
        needs_encryption_keys = True

    settings = _Settings()
    keys = settings.encryption_keys
    ring = sealed.keyring_of(keys.get_secret_value() if keys else None, settings.environment)
    client = storage.connect(settings.mongo_url)
    try:
        result = await rotate_secrets(client[settings.mongo_db], ring)
    finally:
        await client.close()
    for collection, count in result.resealed.items():
        current = result.already_current.get(collection, 0)
        console.print(f"{collection}: {count} re-sealed, {current} already under the first key")
    for where in result.unreadable:
        console.print(f"[red]not opened by any configured key:[/] {where}")
    return 1 if result.unreadable else 0


def rotate_secrets_command() -> None:
    """Re-seal every credential in the database under the first encryption key (server-side:
    reads SECMONKEY_MONGO_URL, SECMONKEY_MONGO_DB and SECMONKEY_ENCRYPTION_KEYS)."""
    raise typer.Exit(asyncio.run(_rotate()))
