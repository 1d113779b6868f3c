"""`secmonkey admin provision`: the server-side provisioning step, run where the admin
credentials are (a Kubernetes Job, a shell on the operator's machine). It talks to
MongoDB and RabbitMQ directly, not to the API; settings are `SECMONKEY_PROVISION_*`
(docs/operations.md, "Provisioning and least privilege")."""

from __future__ import annotations

from typing import Annotated

import typer

from secmonkey.common.provision.__main__ import main as provision_main


def provision_command(
    print_only: Annotated[
        str | None,
        typer.Option(
            "--print",
            help="print `mongo-roles` (the createRole commands) or `rabbitmq-definitions` "
            "(users and permissions) instead of provisioning",
        ),
    ] = None,
) -> None:
    """Create indexes, exchanges, queues and each service's least-privilege users."""
    code = provision_main(["--print", print_only] if print_only else [])
    raise typer.Exit(code)


admin_app = typer.Typer(
    help="Server-side administration, with admin credentials (not through the API).",
    no_args_is_help=True,
)
admin_app.command("provision")(provision_command)
