"""The ``gtm`` command line: the operator's terminal surface.

Nothing here prints a name or an email unless the command is about a person by design
(none of these is): ids, states and counts only.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Annotated

import typer

from gtm_pipeline.config import paths

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="gtm-pipeline: an AI-native outbound pipeline."
)


def _store():  # type: ignore[no-untyped-def]
    from gtm_pipeline.store.repository import Store

    return Store.open(paths().database_url)


@app.command()
def demo(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Dagster's run logs.")] = False,
) -> None:
    """Run the whole graph for the bundled sample hypothesis on the embedded default (no keys)."""
    import dagster as dg

    from gtm_pipeline.orchestrate import prepare_dagster_home, run_graph
    from gtm_pipeline.reporting import summarize

    p = paths()
    dagster_home = prepare_dagster_home(p)
    started = time.monotonic()
    with dg.DagsterInstance.get() as instance:
        outcome = run_graph(instance, log_level="DEBUG" if verbose else "WARNING")
    elapsed = time.monotonic() - started
    store = _store()
    try:
        summary = summarize(store)
    finally:
        store.close()
    typer.echo(
        f"gtm demo: {len(outcome.run_ids)} Dagster run(s), {outcome.partitions} prospect partitions, "
        f"{elapsed:.1f}s"
    )
    typer.echo(f"  prospects found     {summary.prospects}")
    typer.echo(f"  qualified           {summary.qualified}")
    typer.echo(f"  drafted             {summary.drafted}")
    typer.echo(f"  waiting for review  {summary.waiting_for_review}")
    typer.echo(f"  dead-lettered       {summary.dead_lettered}")
    typer.echo(f"  by state            {json.dumps(summary.by_state)}")
    typer.echo(
        f"State: {p.home}  (store {p.database_url.removeprefix('sqlite:///')}, Dagster {dagster_home})"
    )
    typer.echo("See what waits for you:  gtm status")
    typer.echo(
        "Open the Dagster UI:     gtm ui   (or: DAGSTER_HOME="
        + str(dagster_home)
        + " dagster dev -w workspace.yaml), then http://127.0.0.1:3000"
    )
    if not outcome.success:
        typer.echo(f"Failed runs: {', '.join(outcome.failed)}", err=True)
        raise typer.Exit(1)


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Counts per state and what waits for the operator."""
    from gtm_pipeline.reporting import summarize, waiting_for_operator

    store = _store()
    try:
        summary, waiting = summarize(store), waiting_for_operator(store)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps({"summary": summary.as_dict(), "waiting": waiting}, indent=2, default=str))
        return
    typer.echo(f"{summary.prospects} prospects")
    for state, count in summary.by_state.items():
        typer.echo(f"  {state:<18} {count}")
    typer.echo(f"Waiting for review: {len(waiting['reviews'])}")
    for item in waiting["reviews"][:20]:
        typer.echo(f"  #{item['id']:<5} {item['kind']:<12} {item['prospect_id']}  since {item['since'][:16]}")
    if len(waiting["reviews"]) > 20:
        typer.echo(f"  … and {len(waiting['reviews']) - 20} more (gtm status --json)")
    typer.echo(f"Dead letters: {len(waiting['dead_letters'])}")
    for dead in waiting["dead_letters"][:20]:
        typer.echo(
            f"  #{dead['id']:<5} {dead['skill']}@{dead['skill_version']} {dead['prospect_id']}: "
            f"{dead['reason_kind']}: {dead['reason'][:90]}"
        )


@app.command()
def ui(port: Annotated[int, typer.Option(help="Port of the Dagster UI.")] = 3000) -> None:
    """Start the Dagster UI (and daemon) on this project's instance under GTM_HOME."""
    from gtm_pipeline.orchestrate import prepare_dagster_home

    p = paths()
    prepare_dagster_home(p)
    os.chdir(p.root)
    command = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-w",
        str(p.root / "workspace.yaml"),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    typer.echo(f"Dagster UI on http://127.0.0.1:{port}  (DAGSTER_HOME={os.environ['DAGSTER_HOME']})")
    os.execv(sys.executable, command)


if __name__ == "__main__":  # pragma: no cover
    app()
