"""Local alert sinks for `make run`: an SMTP server and a webhook receiver on loopback.

Every email and webhook body is written under the alerts folder (one file each) and
announced in one line on stdout, so a newcomer sees alerts arrive.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class MailSink:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.count += 1
        path = self.folder / f"{self.count:05d}.eml"
        path.write_bytes(envelope.content)
        subject = str(
            make_header(decode_header(message_from_bytes(envelope.content)["Subject"] or ""))
        )
        print(f"[alert] email to {','.join(envelope.rcpt_tos)}: {subject}  ({path})", flush=True)
        return "250 OK"


async def serve_webhooks(host: str, port: int, folder: Path) -> asyncio.Server:
    count = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            request_line = lines[0]
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (x.partition(":") for x in lines[1:] if x)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            count += 1
            path = folder / f"{count:05d}.json"
            path.write_bytes(body)
            try:
                doc = json.loads(body)
                summary = doc.get("subject") or doc.get("text") or doc.get("type") or ""
                if isinstance(doc.get("data"), dict):
                    data = doc["data"]
                    summary = (
                        f"{doc.get('type', '')} {data.get('name', '')} {data.get('changes', '')}"
                    )
            except ValueError:
                summary = "(not JSON)"
            print(
                f"[alert] webhook {request_line.split(' ')[1]}: {str(summary)[:160]}  ({path})",
                flush=True,
            )
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folder", default=".local/alerts")
    parser.add_argument("--smtp-port", type=int, default=8025)
    parser.add_argument("--webhook-port", type=int, default=8099)
    args = parser.parse_args()
    root = Path(args.folder)
    (root / "email").mkdir(parents=True, exist_ok=True)
    (root / "webhook").mkdir(parents=True, exist_ok=True)
    controller = Controller(MailSink(root / "email"), hostname="127.0.0.1", port=args.smtp_port)
    controller.start()
    server = await serve_webhooks("127.0.0.1", args.webhook_port, root / "webhook")
    print(
        f"[sinks] SMTP on 127.0.0.1:{args.smtp_port}, webhooks on http://127.0.0.1:{args.webhook_port}/, "
        f"alerts written under {root}/",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    controller.stop()


if __name__ == "__main__":
    asyncio.run(main())
