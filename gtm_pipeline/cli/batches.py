"""``gtm batches status`` and ``gtm batches requeue``: the skill calls waiting for a provider's batch API.

A batch create whose answer was lost (a timeout, a dropped connection, a 5xx) may or may not have
made a batch at the provider. Its calls are held as ``submit_unknown`` and escalated
(``batch_failed``): sent again blindly they could be paid twice. The operator looks at the
provider's batch list (Anthropic console, or the host's ``/v1/batches``); when no batch holds them,
``requeue`` puts them back in the queue for the ``skill_batches`` sensor, and says so in the journal.
"""

from __future__ import annotations

from typing import Annotated

import typer

from gtm_pipeline.cli import app
from gtm_pipeline.cli.common import CommandError, open_store, print_json

batches_app = typer.Typer(no_args_is_help=True, help="Skill calls waiting for a provider's batch API.")
app.add_typer(batches_app, name="batches")
REQUEUE_ACTOR = "operator:cli"


@batches_app.command("status")
def batches_status(
    as_json: Annotated[bool, typer.Option("--json", help="Counts and held calls as JSON.")] = False,
) -> None:
    """Calls by status, and those held after a lost batch create (ids and names only)."""
    with open_store(read_only=True) as store:
        counts = store.skill_batches.counts()
        held = store.skill_batches.held()
    if as_json:
        print_json(
            {
                "counts": counts,
                "held": [
                    {"id": i, "provider": p, "skill": k, "batch_id": b, "since": at.isoformat(), "why": why}
                    for i, p, k, b, at, why in held
                ],
            }
        )
        return
    typer.echo(", ".join(f"{status} {n}" for status, n in sorted(counts.items())) or "no batched calls")
    for item_id, provider, skill, batch_id, since, why in held:
        typer.echo(
            f"held {item_id}  {provider}  {skill}  batch {batch_id or '?'}"
            f"  since {since:%Y-%m-%d %H:%M}  {why or ''}"
        )


@batches_app.command("requeue")
def batches_requeue(
    ids: Annotated[list[int] | None, typer.Argument(help="Held call ids (`gtm batches status`).")] = None,
    all_held: Annotated[bool, typer.Option("--all-held", help="Every held call.")] = False,
) -> None:
    """Queue held calls again, once the provider shows no batch holding them."""
    with open_store() as store:
        chosen = (
            [item[0] for item in store.skill_batches.held(limit=100_000)] if all_held else list(ids or [])
        )
        if not chosen:
            raise CommandError(
                "name the held calls to queue again (ids from `gtm batches status`) or --all-held"
            )
        queued = store.skill_batches.requeue_unknown(chosen)
        store.journal.append(
            subject="skill_batches",
            kind="batch_requeued",
            actor=REQUEUE_ACTOR,
            payload={"asked": len(chosen), "queued": queued, "ids": chosen[:200]},
        )
    typer.echo(f"queued again: {queued} of {len(chosen)} (the others were not held)")
