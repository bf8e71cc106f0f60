"""``gtm eval SKILL`` runs the current version of a skill on its eval set and journals the figures;
``gtm skills status | promote | demote`` is graduation at the terminal, on the same rules as the console.

The set lives in ``<skill folder>/evals/*.jsonl``. Every case runs through the normal runner
(contract and evidence checks, retries, dead letters) on a scratch store, against the group's
provider chain or ``--provider`` alone; the figures (per-label precision and recall, contract
and evidence rates, policy violations, tokens, cost at list prices, cache-read share, latency)
are printed and journaled under ``skill:<name>``, where graduation reads them. Exit status 1
when the eval falls short of the group's bar, so CI can gate on it.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gtm_pipeline.cli import app
from gtm_pipeline.cli.common import CommandError, open_services, operator, print_json


@app.command("eval")
def evaluate(
    skill: Annotated[str, typer.Argument(help="The skill to evaluate (its current version).")],
    provider: Annotated[
        str | None,
        typer.Option("--provider", help="Run on this provider alone (bulk, polish or offline)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Every figure as JSON.")] = False,
) -> None:
    """Run SKILL's eval set on its current version; print and journal the figures."""
    from gtm_pipeline.evals import (
        EvalSetError,
        ProviderNotConfigured,
        journal_eval,
        load_eval_set,
        run_eval,
        table,
        verdict,
    )

    with open_services() as services:
        try:
            current = services.catalog.skill(skill)
        except KeyError as exc:
            raise CommandError(str(exc.args[0])) from None
        try:
            cases = load_eval_set(current)
            run = run_eval(
                services.catalog,
                skill,
                cases,
                services.router,
                services.prices,
                services.clock,
                provider=provider,
            )
        except (EvalSetError, ProviderNotConfigured) as exc:
            raise CommandError(str(exc)) from None
        summary = verdict(run)
        summary["journal_entry"] = journal_eval(services.store, summary, actor=operator())
    if as_json:
        print_json(summary)
    else:
        typer.echo(table(summary))
    if not summary["passed"]:
        raise typer.Exit(1)


skills_app = typer.Typer(no_args_is_help=True, help="Skill graduation: the evidence, promote and demote.")
app.add_typer(skills_app, name="skills")


@skills_app.command("status")
def skills_status(
    as_json: Annotated[bool, typer.Option("--json", help="Every skill's evidence as JSON.")] = False,
) -> None:
    """Each skill's version, group, review record and eval, and what blocks its promotion."""
    from gtm_pipeline.console import graduation
    from gtm_pipeline.evals.report import pct

    with open_services() as services:
        catalog, store = services.catalog, services.store
        rows: list[dict[str, Any]] = []
        for skill in sorted(catalog.skills.values(), key=lambda s: s.name):
            stats = graduation.stats_for(store, catalog, skill.name)
            evaluation = graduation.latest_eval(store, catalog, skill.name)
            outcome = graduation.outcome_record(store, catalog, skill.name)
            rows.append(
                {
                    "skill": skill.name,
                    "version": skill.version,
                    "group": skill.group.spec.name,
                    "mode": skill.group.spec.mode,
                    "reviews": stats.reviews if stats else 0,
                    "approval_rate": round(stats.approval_rate, 4) if stats else None,
                    "eval": None
                    if evaluation is None
                    else {
                        "current": evaluation.current,
                        "version": evaluation.version,
                        "at": evaluation.at,
                        "models": evaluation.summary.get("models"),
                        "accuracy": evaluation.summary.get("accuracy"),
                        "entry_id": evaluation.entry_id,
                    },
                    "outcomes": None if outcome is None else outcome.as_dict(),
                    "blockers": graduation.promotion_blockers(stats, catalog, skill.name, evaluation, outcome)
                    if skill.group.spec.promote_to
                    else [],
                    "promote_to": skill.group.spec.promote_to,
                }
            )
    if as_json:
        print_json(rows)
        return
    for row in rows:
        found = row["eval"]
        proof = (
            "unproven (no eval)"
            if found is None
            else f"unproven (last eval of {found['version']})"
            if not found["current"]
            else f"eval {pct(found['accuracy'])} on {', '.join(found['models'] or [])} ({found['at']})"
        )
        where = f"{row['group']} ({row['mode']})"
        typer.echo(f"{row['skill']}@{row['version']} {where}: {row['reviews']} review(s), {proof}")
        if row["promote_to"]:
            verdict = "may be promoted" if not row["blockers"] else "; ".join(row["blockers"])
            typer.echo(f"  promote to {row['promote_to']}: {verdict}")


def _move(name: str, direction: str) -> None:
    from gtm_pipeline.console import graduation

    with open_services() as services:
        if not services.settings.paths.skills_editable:
            raise CommandError(
                f"{name} not {direction}d: these are the bundled demo skills; "
                "`gtm init` makes a workspace with skills of your own to promote"
            )
        try:
            moved = graduation.move_skill(
                services.store, services.catalog, name, direction=direction, actor=operator()
            )
        except (graduation.GraduationError, KeyError) as exc:
            raise CommandError(f"{name} not {direction}d: {exc}") from None
        group = moved.skill(name).group.spec
    typer.echo(f"{name} {direction}d to {group.name} ({group.mode}); journaled under skill:{name}")


@skills_app.command("promote")
def skills_promote(name: Annotated[str, typer.Argument(help="The skill to promote.")]) -> None:
    """Promote NAME to its group's promote_to group: needs the review record and a passing eval of
    its current version (`gtm eval NAME`)."""
    _move(name, "promote")


@skills_app.command("demote")
def skills_demote(name: Annotated[str, typer.Argument(help="The skill to demote.")]) -> None:
    """Demote NAME to its group's demote_to group (always allowed)."""
    _move(name, "demote")
