"""Email over SMTP (aiosmtplib): one message with a plain-text and an HTML part (Jinja2)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import aiosmtplib
import jinja2

from secmonkey.common import webhooks
from secmonkey.common.documents import Subscription
from secmonkey.common.storage import Database
from secmonkey.notifier.channels.base import Batch, Outcome, redact
from secmonkey.notifier.enrichment import Enrichment, enrich
from secmonkey.notifier.escaping import email as headers
from secmonkey.notifier.notices import Notice, digest_subject
from secmonkey.notifier.settings import Settings

_COLORS = {"critical": "#a40e26", "high": "#bc4c00", "medium": "#9a6700"}
# 535/534/530: authentication problems an operator fixes; worth retrying until then.
_RETRYABLE_CODES = {530, 534, 535}

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("secmonkey.notifier", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


def _color(notice: Notice) -> str:
    if notice.event.type == "issue.fixed":
        return "#1a7f37"
    severity = notice.event.severity
    return _COLORS.get(severity.value if severity else "", "#1f2328")


def render_event(
    subscription: Subscription, notice: Notice, enrichment: Enrichment
) -> tuple[str, str, str]:
    """(subject, text, html) of one event."""
    values: dict[str, Any] = {
        "notice": notice,
        "event": notice.event,
        "enrichment": enrichment,
        "subscription": subscription,
        "color": _color(notice),
    }
    return (
        notice.subject,
        _env.get_template("event.txt").render(values),
        _env.get_template("event.html").render(values),
    )


def render_digest(subscription: Subscription, batch: Batch) -> tuple[str, str, str]:
    subject = digest_subject(subscription.name, [n.event for n in batch.notices])
    values: dict[str, Any] = {
        "subject": subject,
        "notices": batch.notices,
        "subscription": subscription,
        "delivery_id": batch.delivery_id,
    }
    return (
        subject,
        _env.get_template("digest.txt").render(values),
        _env.get_template("digest.html").render(values),
    )


def compose(
    sender: str, recipients: list[str], rendered: tuple[str, str, str], batch: Batch
) -> EmailMessage:
    subject, text, html = rendered
    message = EmailMessage()
    message["Subject"] = headers.header(subject)
    message["From"] = sender
    message["To"] = ", ".join(headers.recipients(recipients))
    message["Date"] = formatdate(localtime=False)
    # One Message-ID for every attempt of one delivery: a mailbox that got an attempt whose
    # outcome was unknown shows the retry as the same message.
    message["Message-ID"] = f"<{batch.delivery_id.replace(':', '.')}@secmonkey>"
    message[webhooks.DELIVERY_ID_HEADER] = batch.delivery_id
    if batch.kind == "event":
        message[webhooks.EVENT_ID_HEADER] = batch.single.event.event_id
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def classify_smtp_error(exc: Exception) -> Outcome:
    """4xx replies and connection trouble are worth retrying; other 5xx replies are not."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        text = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        if any(400 <= c < 500 for c in codes):
            return Outcome.retry(f"recipients refused: {text}", codes[0])
        return Outcome.failed(f"recipients refused: {text}", codes[0] if codes else None)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        reason = f"SMTP {exc.code}: {exc.message}"
        if 400 <= exc.code < 500 or exc.code in _RETRYABLE_CODES or exc.code < 0:
            return Outcome.retry(reason, exc.code)
        return Outcome.failed(reason, exc.code)
    return Outcome.retry(f"SMTP unavailable: {type(exc).__name__}: {exc}")


class EmailSender:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._local_hostname = settings.smtp_local_hostname

    async def local_hostname(self) -> str:
        """The name sent in EHLO, looked up once: aiosmtplib would ask `socket.getfqdn` for
        every message, a DNS query that takes seconds where reverse lookups time out."""
        if self._local_hostname is None:
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        return self._local_hostname

    async def render(self, subscription: Subscription, batch: Batch) -> tuple[str, str, str]:
        if batch.kind == "digest":
            return render_digest(subscription, batch)
        notice = batch.single
        enrichment = await enrich(self.db, notice.event)
        return render_event(subscription, notice, enrichment)

    async def send(self, subscription: Subscription, batch: Batch) -> Outcome:
        recipients = headers.recipients(subscription.channel.to)
        if not recipients:
            return Outcome.failed("the subscription lists no valid email recipient")
        message = compose(
            self.settings.smtp_from, recipients, await self.render(subscription, batch), batch
        )
        s = self.settings
        password = s.smtp_password.get_secret_value() if s.smtp_password else None
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=password,
            use_tls=s.smtp_security == "tls",
            start_tls=s.smtp_security == "starttls",
            timeout=s.smtp_timeout,
            local_hostname=await self.local_hostname(),
        )
        stage = Stage()
        try:
            outcome = await _transmit(client, message, stage)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            outcome = classify_smtp_error(exc)
            if stage.data_sent and outcome.result == "retry" and outcome.status_code is None:
                # The message went out and no reply came: the relay may have taken it.
                outcome = Outcome.unknown(f"no reply after the message was sent: {outcome.error}")
            outcome = Outcome(
                outcome.result,
                outcome.status_code,
                redact(outcome.error or "", [password or ""]),
                outcome.retry_after,
            )
        finally:
            if client.is_connected:
                client.close()
        return outcome

    async def close(self) -> None:
        return None


class Stage:
    """How far a transmission got: past DATA, a lost reply leaves the outcome unknown."""

    data_sent = False


async def _transmit(client: aiosmtplib.SMTP, message: EmailMessage, stage: Stage) -> Outcome:
    """Connect (and authenticate), send the envelope, then the message (`stage` says when)."""
    await client.connect()
    recipients = [a.strip() for a in str(message["To"]).split(",") if a.strip()]
    await client.mail(str(message["From"]))
    refused: dict[str, aiosmtplib.SMTPRecipientRefused] = {}
    for recipient in recipients:
        try:
            await client.rcpt(recipient)
        except aiosmtplib.SMTPRecipientRefused as exc:
            refused[recipient] = exc
    if len(refused) == len(recipients):
        raise aiosmtplib.SMTPRecipientsRefused(list(refused.values()))
    stage.data_sent = True  # from here on, a lost reply may hide an accepted message
    await client.data(message.as_bytes())
    stage.data_sent = False
    with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
        await client.quit()
    if refused:
        text = ", ".join(f"{r}: {e.code}" for r, e in refused.items())
        return Outcome("delivered", 250, f"some recipients refused: {text}")
    return Outcome.delivered(250)
