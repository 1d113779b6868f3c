"""The provisioning step: indexes, topology, then each service's users."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import urllib.request
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from pymongo.errors import OperationFailure

from secmonkey.common import amqp, storage
from secmonkey.common.provision import mongo_roles, rabbit_users
from secmonkey.common.storage.collections import Service

log = logging.getLogger(__name__)
SERVICES = mongo_roles.SERVICES


class ProvisionSettings(BaseSettings):
    """Admin connections, and each service's own URLs (their users and passwords)."""

    model_config = SettingsConfigDict(
        env_prefix="SECMONKEY_PROVISION_",
        env_ignore_empty=True,
        extra="ignore",
        populate_by_name=True,
    )

    mongo_url: str = Field(
        default="mongodb://127.0.0.1:27017/",
        validation_alias=AliasChoices("SECMONKEY_PROVISION_MONGO_URL", "SECMONKEY_MONGO_URL"),
        description="a MongoDB user that may create indexes, roles and users",
    )
    mongo_db: str = Field(
        default="secmonkey",
        validation_alias=AliasChoices("SECMONKEY_PROVISION_MONGO_DB", "SECMONKEY_MONGO_DB"),
    )
    partitions: int = Field(
        default=16,
        ge=0,
        le=256,
        validation_alias=AliasChoices("SECMONKEY_PROVISION_PARTITIONS", "SECMONKEY_PARTITIONS"),
        description="snapshot partitions, as the services have them (their queues and users)",
    )
    amqp_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/",
        validation_alias=AliasChoices("SECMONKEY_PROVISION_AMQP_URL", "SECMONKEY_AMQP_URL"),
        description="a RabbitMQ user that may configure the virtual host",
    )
    rabbitmq_users: Literal["none", "rabbitmqctl", "management"] = Field(
        default="none",
        description="how the services' RabbitMQ users are made: the local broker's "
        "rabbitmqctl, the management HTTP API (`rabbitmq_management_url`), or not at all",
    )
    rabbitmq_management_url: str = "http://127.0.0.1:15672"
    # Each service's own URLs: the user name and password to create, from the very
    # secret the service mounts. A service with none gets no user.
    collector_mongo_url: str | None = None
    auditor_mongo_url: str | None = None
    notifier_mongo_url: str | None = None
    api_mongo_url: str | None = None
    collector_amqp_url: str | None = None
    auditor_amqp_url: str | None = None
    notifier_amqp_url: str | None = None
    api_amqp_url: str | None = None

    def service_url(self, service: Service, kind: Literal["mongo", "amqp"]) -> str | None:
        value = getattr(self, f"{service}_{kind}_url")
        return value if isinstance(value, str) else None


@dataclass
class Report:
    """What provisioning did, one line each (printed by the command)."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def own_users(
    settings: ProvisionSettings, kind: Literal["mongo", "amqp"], report: Report
) -> dict[Service, tuple[str, str]]:
    """Each service's (user, password) to create: a service whose URL has no user, or the
    admin's own user (a development stack with one account), is left out and said so."""
    admin = urlsplit(settings.mongo_url if kind == "mongo" else settings.amqp_url).username
    out: dict[Service, tuple[str, str]] = {}
    for service in SERVICES:
        url = settings.service_url(service, kind)
        if url is None:
            continue
        parts = urlsplit(url)
        if not parts.username or parts.password is None:
            report.skipped.append(f"{kind} user of the {service}: its URL names no user")
        elif parts.username == admin:
            report.skipped.append(f"{kind} user of the {service}: it is the admin's own user")
        else:
            out[service] = credentials(url)
    return out


def credentials(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if not parts.username or parts.password is None:
        raise ValueError(f"{parts.scheme} URL without a user and password")
    return unquote(parts.username), unquote(parts.password)


def vhost_of(url: str) -> str:
    path = urlsplit(url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


async def provision(settings: ProvisionSettings) -> Report:
    report = Report()
    client = storage.connect(settings.mongo_url)
    try:
        db = client[settings.mongo_db]
        await storage.ensure_indexes(db)
        report.done.append(f"indexes of {len(storage.INDEXES)} collections in {db.name}")
        await _mongo_users(settings, db, report)
    finally:
        await client.close()
    connection = await amqp.connect(settings.amqp_url)
    try:
        await amqp.declare_topology(connection, settings.partitions)
    finally:
        await connection.close()
    report.done.append(f"exchanges and queues in virtual host {vhost_of(settings.amqp_url)!r}")
    await asyncio.to_thread(_rabbit_users, settings, report)
    return report


async def _mongo_users(settings: ProvisionSettings, db: storage.Database, report: Report) -> None:
    wanted = own_users(settings, "mongo", report)
    if not wanted:
        report.skipped.append("MongoDB users: no SECMONKEY_PROVISION_<SERVICE>_MONGO_URL set")
        return
    try:
        roles = await db.command({"rolesInfo": 1})
    except OperationFailure as exc:
        report.skipped.append(
            f"MongoDB roles and users: the server has no authorization commands ({exc.code}: "
            "FerretDB has none); run the commands of `mongo_roles` on MongoDB"
        )
        return
    have_roles = {r["role"] for r in roles.get("roles", [])}
    have_users = {u["user"] for u in (await db.command({"usersInfo": 1})).get("users", [])}
    for service, (user, password) in wanted.items():
        role = mongo_roles.role_name(service)
        await db.command(mongo_roles.role_command(service, db.name, update=role in have_roles))
        await db.command(
            mongo_roles.user_command(
                service, db.name, password, user=user, update=user in have_users
            )
        )
        report.done.append(f"MongoDB user {user} with role {role}")


def _rabbit_users(settings: ProvisionSettings, report: Report) -> None:
    wanted = own_users(settings, "amqp", report) if settings.rabbitmq_users != "none" else {}
    if not wanted:
        report.skipped.append(
            "RabbitMQ users: set SECMONKEY_PROVISION_RABBITMQ_USERS and "
            "SECMONKEY_PROVISION_<SERVICE>_AMQP_URL"
        )
        return
    vhost = vhost_of(settings.amqp_url)
    users = {s: user for s, (user, _) in wanted.items()}
    passwords = {s: password for s, (_, password) in wanted.items()}
    if settings.rabbitmq_users == "rabbitmqctl":
        rabbit_users.apply_with_rabbitmqctl(vhost, passwords, users, settings.partitions)
    else:
        _apply_with_management(settings, vhost, passwords, users)
    report.done += [f"RabbitMQ user {users[s]} in {vhost!r}" for s in wanted]


def _apply_with_management(
    settings: ProvisionSettings,
    vhost: str,
    passwords: dict[Service, str],
    users: dict[Service, str],
) -> None:
    """The same users through the management plugin's HTTP API (no rabbitmqctl in a pod)."""
    admin, secret = credentials(settings.amqp_url)
    token = base64.b64encode(f"{admin}:{secret}".encode()).decode()
    base = settings.rabbitmq_management_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ValueError("SECMONKEY_PROVISION_RABBITMQ_MANAGEMENT_URL must be http(s)")
    perms = rabbit_users.permissions(partitions=settings.partitions)

    def put(path: str, body: dict[str, object]) -> None:
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            base + path,
            data=json.dumps(body).encode(),
            method="PUT",
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310
            pass

    for service, password in passwords.items():
        name = quote(users[service], safe="")
        put(f"/api/users/{name}", {"password": password, "tags": ""})
        configure, write, read = perms[service].regexes()
        put(
            f"/api/permissions/{quote(vhost, safe='')}/{name}",
            {"configure": configure, "write": write, "read": read},
        )
