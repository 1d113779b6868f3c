"""The benchmark's webhook receiver: answers 200, prints `<type> <group id> <unix time>`.

Its own process, so parsing alerts never shares a GIL with the services measured.
"""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "io.secmonkey."


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        at = time.time()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        try:
            event = json.loads(body)
            kind = str(event.get("type", "?")).removeprefix(PREFIX)
            group = (event.get("data") or {}).get("group_id", "?")
        except ValueError:
            kind, group = "unreadable", "?"
        sys.stdout.write(f"{kind} {group} {at:.6f}\n")
        sys.stdout.flush()

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sys.stdout.write(f"PORT {server.server_address[1]}\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
