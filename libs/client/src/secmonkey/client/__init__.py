"""Python client of the secmonkey REST API, and the `secmonkey` command."""

from secmonkey.client.client import AsyncClient, Client
from secmonkey.client.errors import ApiError, ConnectionFailed

__all__ = ["ApiError", "AsyncClient", "Client", "ConnectionFailed"]
