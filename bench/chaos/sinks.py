"""The chaos and soak harness's alert sinks, each its own process so that a fault can
stop (connection refused) or freeze (SIGSTOP: connections hang) it alone.

    python bench/chaos/sinks.py webhook PORT OUT   # generic webhooks, answers 200
    python bench/chaos/sinks.py smtp PORT OUT      # an SMTP relay that accepts all mail

Each alert appends one line to OUT: `<kind> <event id> <type> <arrival> <event time>`
(unix seconds); the id is the CloudEvents `id` (webhook) or `X-Secmonkey-Event-Id`
(email). Lines are appended and flushed one by one, so a killed sink loses none.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from datetime import datetime
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

from aiosmtpd.controller import Controller

PREFIX = "io.secmonkey."


def _epoch(text: str | None) -> float:
    if not text:
        return 0.0
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _write(out: TextIO, kind: str, event_id: str, event_type: str, at: str | None) -> None:
    out.write(f"{kind} {event_id} {event_type} {time.time():.6f} {_epoch(at):.6f}\n")
    out.flush()


def serve_webhooks(port: int, out: TextIO) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                event = json.loads(body)
                kind = str(event.get("type", "?")).removeprefix(PREFIX)
                event_id = str(event.get("id") or self.headers.get("webhook-id") or "?")
                at = event.get("time")
            except ValueError:
                kind, event_id, at = "unreadable", "?", None
            _write(out, "webhook", event_id, kind, at)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


class MailSink:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content)
        event_id = message.get("X-Secmonkey-Event-Id") or f"digest:{message.get('Message-ID')}"
        _write(self.out, "email", str(event_id).strip(), "email", None)
        return "250 OK"


async def serve_smtp(port: int, out: TextIO) -> None:
    controller = Controller(MailSink(out), hostname="127.0.0.1", port=port, server_hostname="sink")
    controller.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    controller.stop()


def main() -> None:
    kind, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(path, "a", encoding="utf-8") as out:
        if kind == "webhook":
            serve_webhooks(port, out)
        else:
            asyncio.run(serve_smtp(port, out))


if __name__ == "__main__":
    main()
