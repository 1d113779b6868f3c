"""Send a batch to a webhook in the subscription's format, through the guarded client.

Each attempt has `timeout` seconds in all (see `http.post`).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from secmonkey.common import webhooks
from secmonkey.common.documents import Subscription
from secmonkey.common.errors import InvalidInput
from secmonkey.notifier.channels import generic, slack, teams
from secmonkey.notifier.channels.base import Batch, Outcome, redact
from secmonkey.notifier.channels.http import make_client, post

Builder = Callable[[Subscription, Batch], tuple[bytes, dict[str, str]]]
BUILDERS: dict[str, Builder] = {
    "generic": generic.build,
    "slack": slack.build,
    "teams": teams.build,
}


class WebhookSender:
    def __init__(
        self,
        *,
        allow_http: bool,
        allow_private: bool,
        timeout: float,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.allow_http = allow_http
        self.timeout = timeout
        self.client = client or make_client(allow_private=allow_private, timeout=timeout)

    async def send(self, subscription: Subscription, batch: Batch) -> Outcome:
        channel = subscription.channel
        url = channel.url or ""
        secrets = [*batch.secrets, url, channel.secret or ""]
        try:
            webhooks.parse_webhook_url(url, allow_http=self.allow_http)
            body, headers = BUILDERS[channel.type](subscription, batch)
        except (InvalidInput, ValueError, KeyError) as exc:
            return Outcome.failed(redact(f"refused: {exc}", secrets))
        return await post(self.client, url, body, headers, secrets, deadline=self.timeout)

    async def close(self) -> None:
        await self.client.aclose()
