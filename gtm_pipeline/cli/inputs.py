"""Real inputs: ``gtm fetch`` (what the fetcher would keep from a URL) and ``gtm import`` (a list)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from gtm_pipeline.cli import app
from gtm_pipeline.cli.common import CommandError, clock, settings


@app.command()
def fetch(
    url: Annotated[str, typer.Argument(help="The page to fetch, under every rule a connector obeys.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Fetch one URL as the pipeline would (robots, politeness, limits, SSRF guard) and print what
    would be stored, or the refusal and its reason. Leaves nothing on disk: no document, no HTTP
    cache, no lock file (it waits its turn on a host the pipeline is crawling, but makes no file)."""
    from gtm_pipeline.sources.extract import page_content
    from gtm_pipeline.sources.fetcher import FetchRefused
    from gtm_pipeline.sources.web import build_fetcher

    now = clock().now()
    with build_fetcher(settings(), clock(), cache=False, create_lock_files=False) as fetcher:
        try:
            page = fetcher.get(url)
        except FetchRefused as refused:
            _emit(
                refused.as_dict(),
                as_json,
                f"refused: {refused.reason} ({refused.detail}) at {refused.at_url}",
            )
            raise typer.Exit(1) from None
    content = page_content(page, today=now.date())
    record: dict[str, Any] = {
        **page.provenance(),
        "published_on": content.published_on.isoformat() if content.published_on else None,
        "date_source": content.date_source,
        "title": content.title,
        "text": content.text,
        "feeds": list(content.feeds),
        "links": len(content.links),
    }
    summary = "\n".join(
        [
            f"{page.status} {page.final_url}"
            + (f" (after {len(page.redirects)} redirect(s))" if page.redirects else ""),
            f"robots: {page.robots}; {page.content_type}; sha256 {page.content_hash[:16]}",
            f"charset: {page.charset} ({page.charset_source})",
            f"title: {content.title or '-'}",
            f"published: {record['published_on'] or 'unknown'} ({content.date_source})",
            f"text: {len(content.text)} characters; {len(content.links)} links; "
            f"feeds: {', '.join(content.feeds) or '-'}",
            "",
            content.text[:600] + ("…" if len(content.text) > 600 else ""),
        ]
    )
    _emit(record, as_json, summary)


def _emit(record: dict[str, Any], as_json: bool, text: str) -> None:
    typer.echo(json.dumps(record, indent=2, ensure_ascii=False) if as_json else text)


@app.command("import")
def import_list(
    file: Annotated[
        Path, typer.Argument(help="A CSV export: Apollo, LinkedIn, HubSpot, Salesforce or plain.")
    ],
    hypothesis: Annotated[
        str | None, typer.Option("--hypothesis", help="Which hypothesis the companies are for.")
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="'Header=field' (or 'Header=-' to ignore a column); repeatable."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would happen; write nothing.")
    ] = False,
    check_mx: Annotated[
        bool, typer.Option("--check-mx", help="Ask DNS whether each address's domain takes mail (online).")
    ] = False,
    run: Annotated[
        bool, typer.Option("--run", help="Then research and qualify the imported companies right away.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Import a list of companies and contacts. Each company becomes a prospect to research and is
    qualified on dated behavioural signals like a discovered one; every row not imported is listed
    with its line and reason. One transaction; importing the same file again changes nothing."""
    from gtm_pipeline.cli.common import open_store
    from gtm_pipeline.imports.mapping import MappingError
    from gtm_pipeline.imports.table import TableError
    from gtm_pipeline.pipeline.conflicts import load_accounts
    from gtm_pipeline.pipeline.hypotheses import load_hypotheses
    from gtm_pipeline.pipeline.importing import apply_plan, read_plan

    current = settings()
    if not file.is_file():
        raise CommandError(f"{file}: no such file")
    hypotheses = load_hypotheses(current.paths.hypotheses)
    chosen = _hypothesis(hypotheses, hypothesis)
    try:
        plan = read_plan(file, list(mapping or []), check_mx=check_mx)
    except (TableError, MappingError) as exc:
        raise CommandError(f"{file.name}: {exc}") from None
    if not as_json:
        typer.echo(f"{file.name}: {plan.shape.describe()}; {plan.rows} rows")
        typer.echo("columns:")
        for header, field in plan.mapping.decisions.items():
            typer.echo(f"  {header!r:<32} -> {field}")
    with open_store() as store:
        report = apply_plan(
            store,
            plan,
            hypotheses[chosen],
            load_accounts(current.paths.accounts),
            actor=current.actor("cli"),
            dry_run=dry_run,
        )
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        _print_import(report)
    if dry_run or not report.imported:
        return
    _enter_pipeline(report.imported, run=run, quiet=as_json)


def _hypothesis(hypotheses: dict[str, Any], wanted: str | None) -> str:
    if wanted is not None:
        if wanted not in hypotheses:
            raise CommandError(f"no hypothesis {wanted!r} (have: {', '.join(sorted(hypotheses)) or 'none'})")
        return wanted
    if len(hypotheses) != 1:
        raise CommandError(f"say which hypothesis with --hypothesis (have: {', '.join(sorted(hypotheses))})")
    return next(iter(hypotheses))


def _print_import(report: Any) -> None:
    verb = "would import" if report.dry_run else "imported"
    typer.echo(
        f"{verb} {len(report.imported)} new companies, merged {len(report.merged)} rows, "
        f"skipped {len(report.skipped)} rows, {report.contacts_added} contacts "
        f"({len(report.without_reachable_contact)} companies without a reachable address, "
        f"{len(report.conflicts)} conflicts)"
        + ("; this file was imported before: nothing new" if report.already_imported else "")
    )
    for note in report.skipped:
        typer.echo(f"  skipped line {note.line}: {note.reason}")
    for note in report.warnings:
        typer.echo(f"  note line {note.line}: {note.reason}")
    if report.dry_run:
        typer.echo("dry run: nothing was written")


def _enter_pipeline(prospect_ids: list[str], *, run: bool, quiet: bool) -> None:
    """Register the partitions (the new_prospects sensor then researches them), or run them now."""
    import dagster as dg

    from gtm_pipeline.cli.progress import progress_bar
    from gtm_pipeline.defs.partitions import register_partitions
    from gtm_pipeline.orchestrate import prepare_dagster_home, run_prospects

    prepare_dagster_home(settings())
    with dg.DagsterInstance.get() as instance:
        if not run:
            added = register_partitions(instance, prospect_ids)
            if not quiet:
                typer.echo(
                    f"registered {added} prospect partitions: the new_prospects sensor researches them "
                    "while `gtm ui` runs, or pass --run to research them now"
                )
            return
        with progress_bar("prospects researched", len(prospect_ids), quiet=quiet) as advance:
            outcome = run_prospects(
                instance, prospect_ids, run_key="import", log_level="WARNING", on_progress=advance
            )
    if not quiet:
        typer.echo(f"researched {outcome.partitions} prospects in {len(outcome.run_ids)} Dagster run(s)")
    if not outcome.success:
        raise CommandError(f"failed Dagster runs: {', '.join(outcome.failed)} (see `gtm ui`)", code=1)


@app.command()
def discover(
    hypothesis: Annotated[
        str | None, typer.Option("--hypothesis", help="Which hypothesis to discover for.")
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show what discovery finds; add nothing, call no skill, pay nothing."),
    ] = False,
    allow_spend: Annotated[
        bool, typer.Option("--allow-spend", help="With --dry-run: also ask the paid sources (recorded).")
    ] = False,
    run: Annotated[
        bool, typer.Option("--run", help="Then research and qualify the new prospects right away.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Ask the hypothesis' sources, check every hit (quote in the fetched page, a date inside the
    lookback, not excluded, the company's own site) and show the candidates with their signals and
    scores, and every hit rejected with its reason. Without --dry-run, new companies are registered
    (a company seen before never is: its new signals are journaled, and a not-now prospect waiting
    for that kind of signal is reopened)."""
    from gtm_pipeline.cli.common import open_services
    from gtm_pipeline.pipeline.discover import discover as run_discovery
    from gtm_pipeline.pipeline.signal_search import gather

    with open_services() as services:
        chosen = _hypothesis(dict(services.hypotheses), hypothesis)
        current = services.hypotheses[chosen]
        try:
            if dry_run:
                gathered = gather(services, current, dry_run=True, allow_spend=allow_spend)
                registered: list[str] = []
                report = None
            else:
                report = run_discovery(services, current)
                assert report.gathered is not None
                gathered, registered = report.gathered, report.registered
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    shown = {
        **gathered.summary(),
        "dry_run": dry_run,
        "candidates": [
            {
                "domain": c.domain,
                "name": c.name,
                "score": c.score,
                "sources": c.sources,
                "signals": [
                    s.as_dict() for s in sorted(c.signals, key=lambda s: (s.date, s.url), reverse=True)
                ],
            }
            for c in sorted(gathered.candidates.values(), key=lambda c: (-c.score, c.domain))
        ],
        "rejections": [r.as_dict() for r in gathered.rejections],
        "registered": registered,
        "report": report.metadata() if report else None,
    }
    if as_json:
        typer.echo(json.dumps(shown, indent=2, ensure_ascii=False, default=str))
    else:
        _print_discovery(shown)
    if registered:
        _enter_pipeline(registered, run=run, quiet=as_json)


def _print_discovery(shown: dict[str, Any]) -> None:
    calls = ", ".join(f"{k} {v}" for k, v in shown["calls"].items()) or "none"
    cached = ", ".join(f"{k} {v}" for k, v in shown["cache_hits"].items()) or "none"
    typer.echo(
        f"{shown['hypothesis']} as of {shown['as_of']}: {shown['hits']} hits; calls: {calls}; "
        f"from cache: {cached}; spend ${shown['spend_usd']:.4f}"
    )
    for failure in shown["failures"]:
        typer.echo(f"  source failed: {failure['source']} ({failure['reason']}) for {failure['query']!r}")
    for skipped in shown["skipped"]:
        typer.echo(f"  not asked: {skipped['source']} for {skipped['query']!r}: {skipped['reason']}")
    typer.echo(f"{len(shown['candidates'])} candidates:")
    for c in shown["candidates"]:
        typer.echo(f"  {c['score']:>6.3f}  {c['domain']}  ({', '.join(c['sources'])})")
        for s in c["signals"]:
            typer.echo(
                f"          {s['kind']:<20} {s['date']}  +{s['contribution']:.3f}  {s['url']}\n"
                f"          \u201c{s['quote'][:140]}\u201d"
            )
    rejected = shown["rejected"]
    if rejected:
        typer.echo("rejected hits: " + ", ".join(f"{reason} {n}" for reason, n in rejected.items()))
        for r in shown["rejections"][:20]:
            typer.echo(f"  {r['reason']:<20} {r['source']:<8} {r['url']}  {r['detail'][:100]}")
        if len(shown["rejections"]) > 20:
            typer.echo(f"  … {len(shown['rejections']) - 20} more (--json lists them all)")
    if shown["dry_run"]:
        typer.echo(
            "dry run: nothing was added"
            + ("" if not shown["spend_usd"] else " (the paid calls are recorded)")
        )
    elif shown["registered"]:
        typer.echo(f"registered {len(shown['registered'])} new prospect(s)")
