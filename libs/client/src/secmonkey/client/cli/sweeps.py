"""`secmonkey sweep`: ask the collectors for a sweep now."""

from __future__ import annotations

from typing import Annotated

import typer

from secmonkey.client import render
from secmonkey.client.cli._output import show
from secmonkey.client.cli._params import Regions, State


def sweep_command(
    ctx: typer.Context,
    account_id: Annotated[
        str | None, typer.Argument(help="default: all monitored accounts")
    ] = None,
    region: Regions = None,
) -> None:
    """Ask the collectors to sweep now (admin)."""
    with State.of(ctx).client() as api:
        answer = api.sweep(account_id, region)
    show(
        ctx,
        answer,
        render.table(
            "Sweeps queued",
            ["SWEEP ID", "ACCOUNT", "REGIONS"],
            ([s.sweep_id, s.account_id, ",".join(s.regions or []) or "all"] for s in answer.sweeps),
        ),
    )
