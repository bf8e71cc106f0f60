"""``gtm report``: the funnel to the money, per hypothesis, drafting skill version or signal kind.

Counts per stage (discovered → qualified → sent → replied → positive → meeting → won), the rate from
the stage before with its 95 % Wilson interval, and a warning in words wherever a rate rests on
fewer than 30 prospects. ``--json`` prints the same document the console's charts read. Reads a
snapshot of the store (opened read-only); writes nothing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from gtm_pipeline.cli import app
from gtm_pipeline.cli.common import open_store, print_json


class By(StrEnum):
    hypothesis = "hypothesis"
    skill = "skill"
    signal = "signal"


@app.command("report")
def report(
    by: Annotated[
        By, typer.Option("--by", help="Group prospects by hypothesis, skill version or signal kind.")
    ] = By.hypothesis,
    hypothesis: Annotated[
        str | None, typer.Option("--hypothesis", help="Only this hypothesis' prospects.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The funnel as JSON.")] = False,
) -> None:
    """The funnel to the money with rates, their 95% confidence intervals and small-sample warnings."""
    from gtm_pipeline.funnel import funnel_report

    with open_store(read_only=True) as store:
        document = funnel_report(store, by.value, hypothesis=hypothesis)
    if as_json:
        print_json(document)
        return
    title = f"funnel by {by.value}" + (f" (hypothesis {hypothesis})" if hypothesis else "")
    typer.echo(f"{title}: rates from the stage before, 95% Wilson interval")
    if not document["groups"]:
        typer.echo("  no prospects yet: run `gtm demo` or `gtm import`")
        return
    for group in [*document["groups"], document["total"]]:
        _print_group(group)


def _print_group(group: dict[str, Any]) -> None:
    typer.echo("")
    typer.echo(f"{group['key']}")
    notes: list[str] = []
    for stage in group["stages"]:
        rate = stage["from_previous"]
        typer.echo(f"  {stage['stage']:<11}{stage['count']:>8,}   {_rate(rate)}")
        if rate and rate["note"] and rate["n"]:
            notes.append(f"from {stage['stage']} on: {rate['note']}")
    meetings = group["meetings_per_sent"]
    typer.echo(f"  meetings per prospect written to: {_rate(meetings, '')}")
    for note in notes[:1]:  # the first (widest) warning; later stages are smaller still
        typer.echo(f"  ! {note}")


def _rate(rate: dict[str, Any] | None, of: str = " of prev") -> str:
    if rate is None:
        return ""
    if not rate["n"]:
        return "-  (no sample yet)"
    low, high = rate["ci95"]
    flag = "  small sample" if rate["small_sample"] else ""
    return f"{_pct(rate['rate'])}{of}  (95% CI {_pct(low)}-{_pct(high)}){flag}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"
