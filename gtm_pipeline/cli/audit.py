"""The journal and time: ``replay``, ``dry-run`` and ``rules apply``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gtm_pipeline.cli import app
from gtm_pipeline.cli.common import moment, open_store, print_json, settings
from gtm_pipeline.domain.clock import FixedClock

rules_app = typer.Typer(no_args_is_help=True, help="The time-based rules of the state machine.")
app.add_typer(rules_app, name="rules")


def _anchors() -> dict[str, Any]:
    """The journal heads Dagster anchored (empty when there is no Dagster instance yet)."""
    import os

    import dagster as dg

    from gtm_pipeline.orchestrate import journal_anchors

    home = settings().paths.dagster_home
    if not (home / "dagster.yaml").is_file():
        return {}
    os.environ["DAGSTER_HOME"] = str(home)  # Dagster reads its instance from there
    with dg.DagsterInstance.get() as instance:
        return dict(journal_anchors(instance))


@app.command()
def replay(
    check: Annotated[
        bool, typer.Option("--check", help="Verify and compare; exit 1 on any difference.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Verify every prospect's hash chain and rebuild its state from the journal."""
    from gtm_pipeline.pipeline.audit import replay_check

    with open_store(read_only=True) as store:
        report = replay_check(store, _anchors())
    if as_json:
        print_json(
            {
                "prospects": report.prospects,
                "entries": report.entries,
                "ok": report.ok,
                "problems": [
                    {"prospect_id": p.prospect_id, "entry_id": p.entry_id, "message": p.message}
                    for p in report.problems
                ],
            }
        )
    else:
        for problem in report.problems:
            typer.echo(f"MISMATCH {problem}")
        typer.echo(
            f"replayed {report.prospects} prospects, {report.entries} journal entries: "
            + ("ok" if report.ok else f"{len(report.problems)} problem(s)")
        )
    if check and not report.ok:
        raise typer.Exit(1)


@app.command("dry-run")
def dry_run(
    at: Annotated[
        str, typer.Option("--at", help="When to evaluate the rules: ISO 8601, or an offset such as +400d.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the transitions the time-based rules would make at a given time, touching nothing."""
    from gtm_pipeline.pipeline.timekeeping import plan, sequence_policy
    from gtm_pipeline.skills.catalog import load_catalog

    when = moment(at)
    current = settings()
    # The database itself refuses writes; the store's clock reads the moment asked about.
    with open_store(FixedClock(when), read_only=True) as store:
        policy = sequence_policy(load_catalog(current.paths.skills))
        planned = plan(store, policy, when, current.privacy.retention_days)
    if as_json:
        print_json({"at": when.isoformat(), "planned": [item.as_dict() for item in planned], "changed": 0})
        return
    for item in planned:
        typer.echo(item.describe())
    typer.echo(
        f"dry run at {when.isoformat()}: {len(planned)} prospect(s) with a rule due; nothing was changed"
    )


@rules_app.command("apply")
def rules_apply(
    at: Annotated[
        str | None, typer.Option("--at", help="Evaluate at this time (ISO 8601 or an offset; default now).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Apply the rules due now (what the hourly Dagster schedule does)."""
    from gtm_pipeline.pipeline.timekeeping import apply, plan, sequence_policy
    from gtm_pipeline.skills.catalog import load_catalog
    from gtm_pipeline.sources.web import page_cache

    when = moment(at)
    current = settings()
    with open_store(FixedClock(when)) as store:  # every entry is stamped with the moment the rules ran at
        planned = plan(
            store, sequence_policy(load_catalog(current.paths.skills)), when, current.privacy.retention_days
        )
        decisions = apply(store, planned, when, pages=page_cache(current))
    if as_json:
        print_json(
            {
                "at": when.isoformat(),
                "planned": [item.as_dict() for item in planned],
                "transitions": len(decisions),
                "retention_erasures": sum(p.retention for p in planned),
            }
        )
        return
    for item in planned:
        typer.echo(item.describe())
    typer.echo(
        f"applied {len(decisions)} transition(s) and {sum(p.retention for p in planned)} retention erasure(s)"
    )
