"""Running the pipeline and seeing it: ``init``, ``config show``, ``demo``, ``status``, ``costs``,
``ui`` and ``serve``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from gtm_pipeline.cli import app
from gtm_pipeline.cli.common import CommandError, clock, open_store, settings

config_app = typer.Typer(no_args_is_help=True, help="The workspace's settings.")
app.add_typer(config_app, name="config")


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="The new workspace (default: the current folder).")] = Path(),
) -> None:
    """Make a workspace: gtm.toml with every setting, editable skills and hypotheses, secrets.env."""
    from gtm_pipeline.config.workspace import init_workspace

    written = init_workspace(folder)
    root = written[0].parent
    typer.echo(f"workspace ready in {root}")
    for path in written:
        typer.echo(f"  {path.relative_to(root)}")
    typer.echo("Next: edit gtm.toml (sender, domains, notice), put keys in secrets.env, then `gtm demo`.")


@config_app.command("show")
def config_show(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Every effective setting with where it came from (gtm.toml, env, default); secrets redacted."""
    from gtm_pipeline.config.workspace import describe

    current = settings()
    rows = describe(current)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "workspace": str(current.workspace) if current.workspace else None,
                    "settings": {key: {"value": value, "origin": origin} for key, value, origin in rows},
                },
                indent=2,
            )
        )
        return
    typer.echo(current.mode_line())
    width = max(len(key) for key, _v, _o in rows)
    for key, value, origin in rows:
        shown = value if len(value) <= 70 else value[:67] + "..."
        typer.echo(f"{key:<{width}}  {shown:<70}  ({origin})")


@app.command()
def demo(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Dagster's run logs.")] = False,
) -> None:
    """Run the whole graph for the workspace's hypotheses on the embedded default (no keys needed)."""
    import dagster as dg
    from sqlalchemy.engine import make_url

    from gtm_pipeline.cli.progress import progress_bar
    from gtm_pipeline.cli.views import summarize
    from gtm_pipeline.orchestrate import prepare_dagster_home, run_graph, seed_accounts
    from gtm_pipeline.pipeline.hypotheses import load_hypotheses
    from gtm_pipeline.sample_web import serving_sample_sites
    from gtm_pipeline.skills.catalog import load_catalog

    current = settings()
    # A broken skill or hypothesis file is named here, in one line, before Dagster loads anything.
    load_catalog(current.paths.skills)
    load_hypotheses(current.paths.hypotheses)
    dagster_home = prepare_dagster_home(current)
    if seed_accounts(current):
        typer.echo(f"Seeded the accounts list (customers, open deals) at {current.paths.accounts}.")
    started = time.monotonic()
    # The sample companies' sites are served on loopback and read through the real fetcher.
    with (
        serving_sample_sites(current, clock()) as web,
        dg.DagsterInstance.get() as instance,
        progress_bar("prospects researched and drafted", None, quiet=verbose) as advance,
    ):
        outcome = run_graph(instance, log_level="DEBUG" if verbose else "WARNING", on_progress=advance)
        served = web.requests()
    elapsed = time.monotonic() - started
    with open_store() as store:
        summary = summarize(store)
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
        f"Research read the sample companies' sites through the fetcher ({served} requests to "
        f"{len(web.hosts)} sites served on {web.address}; see `gtm status` for pages not kept)."
    )
    store_url = make_url(current.paths.database_url).render_as_string(hide_password=True)
    typer.echo(f"State: {current.paths.home}  (store {store_url}, Dagster {dagster_home})")
    typer.echo("See what waits for you:  gtm status")
    typer.echo("Open the Dagster UI:     gtm ui, then http://127.0.0.1:3000")
    typer.echo(
        "Review the drafts:       GTM_OPERATOR_PASSWORD=<choose one> gtm serve, then http://127.0.0.1:8025"
    )
    if not outcome.success:
        raise CommandError(f"failed Dagster runs: {', '.join(outcome.failed)} (see `gtm ui`)", code=1)


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Counts per state, whether sending is on, and what waits for the operator."""
    from gtm_pipeline.cli.views import inputs_status, summarize, waiting_for_operator

    with open_store() as store:
        summary, waiting = summarize(store), waiting_for_operator(store, settings().sender.sending_domain)
        inputs = inputs_status(store)
    if as_json:
        typer.echo(
            json.dumps(
                {"summary": summary.as_dict(), "waiting": waiting, "inputs": inputs}, indent=2, default=str
            )
        )
        return
    typer.echo(f"{summary.prospects} prospects")
    for state, count in summary.by_state.items():
        typer.echo(f"  {state:<18} {count}")
    switch = waiting["sending"]["switch"]
    if switch["on"]:
        typer.echo(f"Sending: ON since {switch['since'][:16]} ({switch['by']}; gtm sending stop)")
    else:
        since = f" since {switch['since'][:16]} ({switch['by']})" if switch["since"] else ""
        typer.echo(f"Sending: off{since}; approved drafts wait (gtm sending start)")
    typer.echo(f"Waiting for review: {len(waiting['reviews'])}")
    for item in waiting["reviews"][:20]:
        typer.echo(f"  {item['key']:<14} {item['kind']:<12} {_who(item)}  since {item['since'][:16]}")
    if len(waiting["reviews"]) > 20:
        typer.echo(f"  … and {len(waiting['reviews']) - 20} more (gtm status --json)")
    if waiting["spend_cap_waits_today"]:
        groups = sorted({w.split(":")[0] for w in waiting["spend_cap_waits_today"]})
        typer.echo(
            f"Waiting on a daily spend cap: {len(waiting['spend_cap_waits_today'])} call(s) "
            f"in group(s) {', '.join(groups)} (they resume tomorrow or when the cap is raised)"
        )
    typer.echo(f"Open rights requests: {len(waiting['rights_requests_open'])}")
    for req in waiting["rights_requests_open"][:20]:
        typer.echo(f"  #{req['id']:<5} {req['kind']:<12} due {req['due'][:10]}  {_who(req)}")
    sending = waiting["sending"]
    if sending["touches"]:
        typer.echo(f"Outbox: {sending['touches']}")
    for domain, reason in sending["halted_domains"].items():
        typer.echo(f"  SENDING HALTED for {domain}: {reason} (gtm sending resume --reason ...)")
    for touch in sending["needs_operator"]:
        typer.echo(f"  touch {touch['touch_id']} of {_who(touch)}: {touch['status']}")
    if sending["unmatched_events"]:
        typer.echo(f"  {sending['unmatched_events']} inbound event(s) matched no touch")
    typer.echo(f"Escalations (unacknowledged): {len(waiting['escalations'])}")
    for esc in waiting["escalations"][:20]:
        subject = _who({"prospect_id": esc["subject"], "company": esc.get("company")})
        typer.echo(f"  #{esc['id']:<5} {esc['kind']:<16} {subject}: {esc['detail'][:80]}")
    _print_inputs(inputs)
    typer.echo(f"Dead letters: {len(waiting['dead_letters'])}")
    for dead in waiting["dead_letters"][:20]:
        typer.echo(
            f"  #{dead['id']:<5} {dead['skill']}@{dead['skill_version']} {_who(dead)}: "
            f"{dead['reason_kind']}: {dead['reason'][:90]}"
        )


def _who(row: dict[str, Any]) -> str:
    """A prospect as the operator reads it: the company's name, then its id (which the other
    commands take)."""
    pid = row.get("prospect_id") or "-"
    return f"{row['company']} ({pid})" if row.get("company") else str(pid)


def _print_inputs(inputs: dict[str, Any]) -> None:
    """Imports, refused pages and why prospects left before a touch (the last days)."""
    days = inputs["days"]
    for item in inputs["imports"]:
        typer.echo(
            f"Imported {item['file']} ({item['at'][:16]}): {item['rows']} rows, {item['imported']} new, "
            f"{item['merged']} merged, {item['skipped']} skipped (gtm import --dry-run shows each line)"
        )
    if inputs["fetch_refused"]:
        refused = ", ".join(f"{k} {v}" for k, v in inputs["fetch_refused"].items())
        typer.echo(f"Pages not fetched in {days} days: {refused}")
    if inputs["fetch_off"]:
        typer.echo(f"Companies not fetched because fetch.enabled is off: {inputs['fetch_off']}")
    for slug, outcome in inputs["discovery"].items():
        for label, counts in (
            ("pages rejected", outcome["rejected"]),
            ("source calls failed", outcome["failed"]),
        ):
            if counts:
                listed = ", ".join(f"{k} {v}" for k, v in counts.items())
                typer.echo(f"Discovery for {slug}, {label} in {days} days: {listed}")
    for why, count in inputs["left_the_funnel"].items():
        typer.echo(f"Left before any touch ({days} days): {count} {why}")


@app.command()
def costs(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Tokens and dollars: per day, group, provider and model; per skill; the costliest prospects."""
    from gtm_pipeline.cli.views import cost_report

    with open_store() as store:
        report = cost_report(store)
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
        return
    typer.echo(
        "day         group                 provider  model                                 calls   cost USD"
    )
    for row in report["ledger"]:
        typer.echo(
            f"{row['day']!s:<11} {row['group_name']:<21} {row['provider']:<9} {row['model']:<37} "
            f"{row['calls']:>5} {row['cost_usd']:>10.4f}"
        )
    typer.echo("per skill: " + ", ".join(f"{k} ${v:.4f}" for k, v in report["per_skill"].items()))
    typer.echo(
        "costliest prospects: " + ", ".join(f"{k} ${v:.4f}" for k, v in report["top_prospects"].items())
    )
    typer.echo(f"total ${report['total_usd']:.4f}")


def _dg_command(port: int, dagster_home: Path) -> list[str]:
    """`dg dev` over a workspace file naming the code location as everywhere else (``gtm_pipeline``):
    the daemon finds a schedule's state by location name, so `gtm sending start` and the UI agree."""
    from gtm_pipeline.dagster_control import DEFINITIONS_MODULE, LOCATION_NAME

    workspace = dagster_home / "workspace.yaml"
    workspace.write_text(
        "# written by `gtm ui` on every start\n"
        "load_from:\n"
        "  - python_module:\n"
        f"      module_name: {DEFINITIONS_MODULE}\n"
        "      attribute: defs\n"
        f"      location_name: {LOCATION_NAME}\n"
        f"      working_directory: {json.dumps(str(Path.cwd()))}\n"
    )
    dg = Path(sys.executable).with_name("dg")
    base = [str(dg)] if dg.is_file() else [sys.executable, "-m", "dagster_dg_cli.cli"]
    return [*base, "dev", "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)]


@app.command()
def ui(port: Annotated[int, typer.Option(help="Port of the Dagster UI.")] = 3000) -> None:
    """Start the Dagster UI and daemon (`dg dev`) on this workspace's instance; Ctrl-C stops them all."""
    from gtm_pipeline.console import dagster_link
    from gtm_pipeline.orchestrate import prepare_dagster_home

    current = settings()
    dagster_home = prepare_dagster_home(current)
    url = f"http://127.0.0.1:{port}"
    typer.echo(f"Dagster UI on {url}  (instance {dagster_home})")

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Set before the child starts, so no signal can leave it running without us.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
    child: subprocess.Popen[bytes] | None = None
    try:
        # Its own process group, so a stop reaches dg dev, the webserver, the daemon and the code server.
        child = subprocess.Popen(_dg_command(port, dagster_home), start_new_session=True)
        dagster_link.record(dagster_home, url)
        code = child.wait()
    except KeyboardInterrupt:
        code, forced = _stop_group(child) if child is not None else (130, False)
        if forced:
            # Stopped as asked, only not politely: say so rather than exit as if it had crashed.
            typer.echo("dg dev did not stop within 25 s of SIGINT and SIGTERM: killed it", err=True)
        code = 0 if forced or code in (0, -signal.SIGINT, -signal.SIGTERM) else code  # stopped as asked
    finally:
        dagster_link.clear(dagster_home)
    raise typer.Exit(code if code >= 0 else 128 - code)


def _stop_group(child: subprocess.Popen[bytes], grace_s: float = 20.0) -> tuple[int, bool]:
    """SIGINT to the whole group (dg dev shuts its services down on it), then SIGKILL what is left.
    Returns dg dev's exit code and whether anything had to be killed."""
    group = child.pid
    for sig, wait_s in ((signal.SIGINT, grace_s), (signal.SIGTERM, 5.0)):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            break
        try:
            child.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue
        if not _group_alive(group):
            break
        time.sleep(0.5)
    forced = _group_alive(group)
    if forced:
        os.killpg(group, signal.SIGKILL)
    return child.wait(), forced


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8025,
    host: Annotated[str, typer.Option(help="Interface (loopback by default; put a TLS proxy in front).")] = (
        "127.0.0.1"
    ),
    console: Annotated[
        bool,
        typer.Option(
            "--console/--no-console",
            help="Mount the operator console. Use --no-console for an instance the internet can reach.",
        ),
    ] = True,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes (uvicorn's): several pay off on Postgres; on SQLite they share one lock.",
        ),
    ] = 1,
) -> None:
    """Run the webhook receiver, the one-click unsubscribe endpoint and the operator console."""
    import uvicorn

    from gtm_pipeline.app import create_app
    from gtm_pipeline.cli.serve_app import CONSOLE_ENV

    current = settings()
    typer.echo(f"receiver on http://{host}:{port}/webhooks/resend  (unsubscribe: /unsubscribe/<token>)")
    if console:
        typer.echo(f"console  on http://{host}:{port}/  (operator: {current.console.operator or 'operator'})")
        if not current.secret("operator_password"):
            typer.echo("  GTM_OPERATOR_PASSWORD is not set: the console will refuse every login", err=True)
    if not current.secret("resend_webhook_secret"):
        typer.echo("  RESEND_WEBHOOK_SECRET is not set: the receiver refuses every webhook", err=True)
    # no access log: URLs carry only opaque ids, but nothing about a request needs to be kept
    if workers == 1:
        uvicorn.run(
            create_app(current, console=console), host=host, port=port, log_level="info", access_log=False
        )
        return
    if current.paths.database_url.startswith("sqlite"):
        typer.echo(
            f"  {workers} workers on SQLite take turns at its one write lock (Postgres scales with them)",
            err=True,
        )
    with open_store():  # migrate once here, not in N workers racing to
        pass
    os.environ[CONSOLE_ENV] = "1" if console else "0"  # the workers inherit it
    uvicorn.run(
        "gtm_pipeline.cli.serve_app:worker_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
    )
