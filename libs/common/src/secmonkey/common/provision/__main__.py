"""`python -m secmonkey.common.provision`: the provisioning step (also `secmonkey admin
provision`, and the Kubernetes init job). Settings: `SECMONKEY_PROVISION_*`
(docs/operations.md, "Provisioning and least privilege")."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from secmonkey.common.provision import mongo_roles, rabbit_users
from secmonkey.common.provision.run import ProvisionSettings, credentials, provision, vhost_of


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="secmonkey admin provision", description=__doc__)
    parser.add_argument(
        "--print",
        choices=("mongo-roles", "rabbitmq-definitions"),
        help="print the MongoDB role commands or the RabbitMQ definitions file and stop",
    )
    args = parser.parse_args(argv)
    settings = ProvisionSettings()
    if args.print == "mongo-roles":
        print(json.dumps(mongo_roles.all_role_commands(settings.mongo_db), indent=2))
        return 0
    if args.print == "rabbitmq-definitions":
        urls = {s: u for s in mongo_roles.SERVICES if (u := settings.service_url(s, "amqp"))}
        users = {s: credentials(u)[0] for s, u in urls.items()}
        passwords = {s: credentials(u)[1] for s, u in urls.items()}
        defs = rabbit_users.definitions(
            vhost_of(settings.amqp_url), passwords, users, partitions=settings.partitions
        )
        print(json.dumps(defs, indent=2))
        return 0
    report = asyncio.run(provision(settings))
    for line in report.done:
        print(f"created  {line}")
    for line in report.skipped:
        print(f"skipped  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
