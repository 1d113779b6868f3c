"""`secmonkey dead-letters`: what the consumers could not process; replay it after a fix,
or purge it (admin)."""

from __future__ import annotations

from typing import Annotated

import typer

from secmonkey.client import models as m
from secmonkey.client import render
from secmonkey.client.cli._output import console, fail, show
from secmonkey.client.cli._params import State

app = typer.Typer(help="Dead letters of the consumer queues (admin).", no_args_is_help=True)

Ids = Annotated[list[str] | None, typer.Argument(help="dead-letter ids (see `list`)")]
All = Annotated[bool, typer.Option("--all", help="every dead letter of the queue")]


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def _outcome(what: str, answer: m.DeadLetterOutcome) -> str:
    text = f"{what} {answer.removed} dead letter(s) of {answer.queue}; {answer.depth} left"
    return text + (f"; not found: {', '.join(answer.not_found)}" if answer.not_found else "")


def _ids(ids: list[str] | None, all_: bool) -> list[str] | None:
    if bool(ids) == all_:
        fail("give dead-letter ids or --all", 2)
    return None if all_ else ids


@app.command("list")
def dead_letters_list(
    ctx: typer.Context,
    queue: Annotated[str | None, typer.Argument(help="one consumer queue")] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", help="messages per queue")] = None,
) -> None:
    """Each consumer queue's dead letters: reason, age, publisher."""
    with State.of(ctx).client() as api:
        answer = api.dead_letters(queue, limit=limit)
    rows = [
        [q.queue, d.id, _age(d.age_seconds), d.published_by, d.routing_key, d.reason[:120]]
        for q in answer.queues
        for d in q.messages
    ]
    depths = ", ".join(f"{q.queue}: {q.depth}" for q in answer.queues)
    title = f"Dead letters ({depths})"
    show(
        ctx,
        answer,
        render.table(title, ["QUEUE", "ID", "AGE", "BY", "ROUTING KEY", "REASON"], rows),
    )


@app.command("show")
def dead_letters_show(ctx: typer.Context, queue: str, letter_id: str) -> None:
    """One dead letter with its headers and body."""
    with State.of(ctx).client() as api:
        answer = api.dead_letter(queue, letter_id)

    def text(out: object, letter: m.DeadLetterDetail) -> None:
        console.print(f"[bold]{letter.id}[/] from {letter.queue}, {_age(letter.age_seconds)} ago")
        console.print(f"reason: {letter.reason}")
        console.print(
            f"published by: {letter.published_by or '?'}  routing key: {letter.routing_key}"
        )
        render.print_json(console, letter.headers)
        console.print(letter.body, markup=False, highlight=False)

    show(ctx, answer, text)


@app.command("replay")
def dead_letters_replay(ctx: typer.Context, queue: str, ids: Ids = None, all_: All = False) -> None:
    """Put dead letters back into the queue they came from (after a fix)."""
    with State.of(ctx).client() as api:
        answer = api.replay_dead_letters(queue, _ids(ids, all_))
    show(ctx, answer, lambda out, a: console.print(_outcome("replayed", a)))


@app.command("purge")
def dead_letters_purge(ctx: typer.Context, queue: str, ids: Ids = None, all_: All = False) -> None:
    """Remove dead letters for good."""
    with State.of(ctx).client() as api:
        answer = api.purge_dead_letters(queue, _ids(ids, all_))
    show(ctx, answer, lambda out, a: console.print(_outcome("purged", a)))
