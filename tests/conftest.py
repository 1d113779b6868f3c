"""Fixtures shared by every test: the real servers, with fresh names per test."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlparse

import pytest
import pytest_asyncio
from aio_pika.abc import AbstractRobustConnection

from deploy.local import vhosts
from secmonkey.common import amqp, storage
from secmonkey.common.storage import Database
from tests.support.servers import HttpReceiver, MotoServer, SmtpSink

MONGO_URL = os.environ.get("SECMONKEY_MONGO_URL", "mongodb://127.0.0.1:27017/")
AMQP_URL = os.environ.get("SECMONKEY_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def _require(url: str, default_port: int, what: str) -> None:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or default_port
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        pytest.fail(
            f"{what} does not answer on {host}:{port} ({exc}). Run `make up` (make test does).",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def mongo_url() -> str:
    _require(MONGO_URL, 27017, "The MongoDB-protocol server")
    return MONGO_URL


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """The broker, in a virtual host of this test session's own (removed at the end): a
    developer's `make run` or another test session never sees its messages."""
    _require(AMQP_URL, 5672, "RabbitMQ")
    vhost = f"test-{uuid.uuid4().hex[:10]}"
    url = vhosts.create(vhost, AMQP_URL)
    yield url
    if url != AMQP_URL:
        vhosts.delete(vhost)


@pytest.fixture
def db_name() -> str:
    return f"test_{uuid.uuid4().hex[:12]}"


@pytest_asyncio.fixture
async def db(mongo_url: str, db_name: str) -> AsyncIterator[Database]:
    """A fresh database with every index, dropped afterwards."""
    client = storage.connect(mongo_url)
    database = client[db_name]
    await storage.detect(client)
    await storage.ensure_indexes(database)
    yield database
    await client.drop_database(db_name)
    await client.close()


@pytest_asyncio.fixture
async def rabbit(amqp_url: str) -> AsyncIterator[AbstractRobustConnection]:
    connection = await amqp.connect(amqp_url)
    yield connection
    await connection.close()


@pytest.fixture
def unique() -> str:
    """A fresh suffix for queue names and routing keys."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def moto(moto_server: MotoServer) -> MotoServer:
    """The session's moto server, emptied for this test."""
    moto_server.reset()
    return moto_server


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver().start()
    yield receiver
    receiver.stop()
