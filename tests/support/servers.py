"""Real servers on loopback for tests: moto, SMTP, an HTTP receiver.

RabbitMQ and the MongoDB-protocol server are started by `make up` (deploy/local/up.sh);
these are the ones a test process starts for itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answered on {host}:{port} within {timeout}s")


class MotoServer:
    """A moto server (simulated AWS over HTTP) in a thread of the test process."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        # Every new account-region is several times faster without moto's default AMIs,
        # and its per-request logs would flood captured test output.
        os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

        self.port = free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        self._server.start()
        wait_for_port("127.0.0.1", self.port)
        return self

    def reset(self) -> None:
        import urllib.request

        urllib.request.urlopen(  # noqa: S310 - loopback test server
            urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=10
        ).read()

    def stop(self) -> None:
        self._server.stop()


@dataclass
class SmtpSink:
    """An aiosmtpd server that keeps every message it receives."""

    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    messages: list[Message] = field(default_factory=list)
    ehlo_names: list[str] = field(default_factory=list)  # what each client said in EHLO
    # While set, the sink keeps each message it receives and answers nothing (a relay that
    # took the message and hung before its reply); cleared, it answers what waited.
    hung: threading.Event = field(default_factory=threading.Event)

    def start(self) -> SmtpSink:
        from aiosmtpd.controller import Controller

        sink = self

        class _Handler:
            async def handle_EHLO(  # noqa: N802
                self, server: Any, session: Any, envelope: Any, hostname: str, responses: Any
            ) -> Any:
                sink.ehlo_names.append(hostname)
                session.host_name = hostname
                return responses

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                sink.messages.append(message_from_bytes(envelope.content))
                while sink.hung.is_set():
                    await asyncio.sleep(0.05)
                return "250 OK"

        self._controller = Controller(
            _Handler(), hostname=self.host, port=self.port, server_hostname="relay"
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.messages)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    method: str = "POST"

    def json(self) -> Any:
        return json.loads(self.body)


class HttpReceiver:
    """An HTTP server that records every POST (and GET) and answers what `responder` says.

    `responder(request_number, received) -> (status, headers)`; by default 200.
    """

    def __init__(
        self, responder: Callable[[int, Received], tuple[int, dict[str, str]]] | None = None
    ) -> None:
        self.received: list[Received] = []
        self.responder = responder or (lambda n, r: (200, {}))
        self._lock = threading.Lock()
        receiver = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                got = Received(
                    self.path,
                    dict(self.headers.items()),
                    self.rfile.read(length),
                    time.time(),
                    self.command,
                )
                with receiver._lock:
                    receiver.received.append(got)
                    n = len(receiver.received)
                status, headers = receiver.responder(n, got)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def do_GET(self) -> None:  # noqa: N802
                self.do_POST()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> HttpReceiver:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.received)
