"""A TCP proxy in front of the real RabbitMQ that can play a broker in trouble: frozen (it
stops passing what the client sends, as a broker under a resource alarm stops reading) and
blocked (it also tells the client `connection.blocked`, as RabbitMQ does on an alarm).

The shared broker is never touched: the alarm exists only between the proxy and its
clients. Also a listener that accepts connections and never says a word.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct

from pamqp import commands, frame

FRAME_HEADER = struct.Struct(">BHI")


class AmqpProxy:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._clients: list[tuple[asyncio.StreamWriter, asyncio.Lock]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> AmqpProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url(self, real_url: str) -> str:
        """`real_url` (user, password, virtual host) through this proxy."""
        host = f"{self.target[0]}:{self.target[1]}"
        return real_url.replace(host, f"127.0.0.1:{self.port}", 1)

    def freeze(self) -> None:
        """Stop passing what clients send (the broker stops reading)."""
        self._flowing.clear()

    async def block(self, reason: str = "low on memory") -> None:
        """Freeze, and tell every client `connection.blocked`."""
        self.freeze()
        await self._tell(commands.Connection.Blocked(reason=reason))

    async def unblock(self) -> None:
        await self._tell(commands.Connection.Unblocked())
        self._flowing.set()

    async def _tell(
        self, command: commands.Connection.Blocked | commands.Connection.Unblocked
    ) -> None:
        data = frame.marshal(command, 0)
        for writer, lock in self._clients:
            async with lock:
                writer.write(data)
                await writer.drain()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        for writer, _ in self._clients:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        lock = asyncio.Lock()
        self._clients.append((writer, lock))
        for coro in (self._upstream(reader, up_writer), self._downstream(up_reader, writer, lock)):
            task = asyncio.create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _upstream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _downstream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, lock: asyncio.Lock
    ) -> None:
        # Whole frames only, so a frame the proxy tells can go in between two of them.
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                header = await reader.readexactly(FRAME_HEADER.size)
                _, _, size = FRAME_HEADER.unpack(header)
                rest = await reader.readexactly(size + 1)
                async with lock:
                    writer.write(header + rest)
                    await writer.drain()
        writer.close()


class SilentListener:
    """Accepts TCP connections and never answers: a port that is open but is no broker."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> SilentListener:
        async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._writers.append(writer)

        self._server = await asyncio.start_server(hold, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
