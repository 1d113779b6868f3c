"""A webhook receiver for the benchmark: answers 200 and prints `<event id> <unix time>` per POST.

Runs in its own process so its work does not share a CPU core's GIL with the notifier.
"""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        at = time.time()
        event_id = self.headers.get("Idempotency-Key") or json.loads(body).get("id", "?")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        sys.stdout.write(f"{event_id} {at:.6f}\n")
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
