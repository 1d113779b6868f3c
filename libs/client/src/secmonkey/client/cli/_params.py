"""Options several commands share, and the root options every command reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from secmonkey.client.client import Client

Account = Annotated[str | None, typer.Option("--account", "-a", help="12-digit account ID")]
Region = Annotated[str | None, typer.Option("--region", "-r", help="e.g. us-east-1")]
Regions = Annotated[list[str] | None, typer.Option("--region", "-r", help="repeatable")]
Labels = Annotated[list[str] | None, typer.Option("--label", "-l", help="repeatable")]
Limit = Annotated[int | None, typer.Option("--limit", "-n", help="page size")]
Cursor = Annotated[str | None, typer.Option("--cursor", help="next_cursor of a previous page")]
Direction = Annotated[
    str | None, typer.Option("--direction", "-d", help="ingress or egress", case_sensitive=False)
]


@dataclass
class State:
    """`--url`, `--key` and `--json`, as the root callback parsed them."""

    url: str
    key: str | None
    json: bool

    @classmethod
    def of(cls, ctx: typer.Context) -> State:
        state: State = ctx.find_root().obj
        return state

    def client(self) -> Client:
        return Client(self.url, self.key)
