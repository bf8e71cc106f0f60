"""The ``gtm`` command line: the operator's terminal surface.

Nothing here prints a name or an email unless the command is about a person by design
(none of these is): ids, states and counts only.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from typing import Annotated, Any

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

    from gtm_pipeline.orchestrate import prepare_dagster_home, run_graph, seed_accounts
    from gtm_pipeline.reporting import summarize

    p = paths()
    dagster_home = prepare_dagster_home(p)
    if seed_accounts(p):
        typer.echo(f"Seeded the accounts list (customers, open deals) at {p.accounts_file} from the samples.")
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
    typer.echo(
        "Review the drafts:       GTM_OPERATOR_PASSWORD=<choose one> gtm serve, then http://127.0.0.1:8025"
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
    if waiting["spend_cap_waits_today"]:
        groups = sorted({w.split(":")[0] for w in waiting["spend_cap_waits_today"]})
        typer.echo(
            f"Waiting on a daily spend cap: {len(waiting['spend_cap_waits_today'])} call(s) "
            f"in group(s) {', '.join(groups)} (they resume tomorrow or when the cap is raised)"
        )
    typer.echo(f"Open rights requests: {len(waiting['rights_requests_open'])}")
    for req in waiting["rights_requests_open"][:20]:
        typer.echo(f"  #{req['id']:<5} {req['kind']:<12} due {req['due'][:10]}  {req['prospect_id'] or '-'}")
    sending = waiting["sending"]
    if sending["touches"]:
        typer.echo(f"Outbox: {sending['touches']}")
    for domain, reason in sending["halted_domains"].items():
        typer.echo(f"  SENDING HALTED for {domain}: {reason} (gtm sending resume --reason ...)")
    for touch in sending["needs_operator"]:
        typer.echo(f"  touch {touch['touch_id']} of {touch['prospect_id']}: {touch['status']}")
    if sending["unmatched_events"]:
        typer.echo(f"  {sending['unmatched_events']} inbound event(s) matched no touch")
    typer.echo(f"Escalations (unacknowledged): {len(waiting['escalations'])}")
    for esc in waiting["escalations"][:20]:
        typer.echo(f"  #{esc['id']:<5} {esc['kind']:<16} {esc['subject'] or '-'}: {esc['detail'][:80]}")
    typer.echo(f"Dead letters: {len(waiting['dead_letters'])}")
    for dead in waiting["dead_letters"][:20]:
        typer.echo(
            f"  #{dead['id']:<5} {dead['skill']}@{dead['skill_version']} {dead['prospect_id']}: "
            f"{dead['reason_kind']}: {dead['reason'][:90]}"
        )


def _parse_time(value: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO 8601 time: {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _anchors() -> dict[str, Any]:
    """The journal heads Dagster anchored (empty when there is no Dagster instance yet)."""
    import dagster as dg

    from gtm_pipeline.orchestrate import journal_anchors

    home = paths().dagster_home
    if not (home / "dagster.yaml").is_file():
        return {}
    os.environ["DAGSTER_HOME"] = str(home)
    with dg.DagsterInstance.get() as instance:
        return dict(journal_anchors(instance))


@app.command()
def replay(
    check: Annotated[
        bool, typer.Option("--check", help="Verify and compare; exit 1 on any difference.")
    ] = False,
) -> None:
    """Verify every prospect's hash chain and rebuild its state from the journal."""
    from gtm_pipeline.pipeline.audit import replay_check
    from gtm_pipeline.store.repository import Store

    store = Store.open_read_only(paths().database_url)
    try:
        report = replay_check(store, _anchors())
    finally:
        store.close()
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
    at: Annotated[str, typer.Option("--at", help="The time to evaluate the rules at (ISO 8601).")],
) -> None:
    """List the transitions the time-based rules would make at a given time, touching nothing."""
    from gtm_pipeline.pipeline.privacy import retention_days
    from gtm_pipeline.pipeline.timekeeping import plan, sequence_policy
    from gtm_pipeline.skills.catalog import load_catalog
    from gtm_pipeline.store.repository import Store

    moment = _parse_time(at)
    store = Store.open_read_only(paths().database_url)  # the database itself refuses writes
    try:
        planned = plan(store, sequence_policy(load_catalog(paths().skills_dir)), moment, retention_days())
    finally:
        store.close()
    for item in planned:
        typer.echo(item.describe())
    typer.echo(
        f"dry run at {moment.isoformat()}: {len(planned)} prospect(s) with a rule due; nothing was changed"
    )


@app.command()
def erase(
    target: Annotated[str, typer.Argument(help="The person's email address, or a prospect id (p_...).")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit trail).")] = "data principal request",
) -> None:
    """Erase a person's data (DPDP): tombstone it, suppress the identity forever, journal the request."""
    from gtm_pipeline.pipeline.privacy import UnknownSubjectError
    from gtm_pipeline.pipeline.privacy import erase as erase_subject

    store = _store()
    try:
        report = erase_subject(store, target, reason=reason, now=dt.datetime.now(dt.UTC))
    except UnknownSubjectError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    finally:
        store.close()
    typer.echo(
        f"erased {len(report.prospect_ids)} prospect(s) {report.prospect_ids}; tombstoned {report.counts}; "
        f"identity {report.subject_hash} suppressed; request #{report.request_id} completed"
    )
    if not report.compacted:
        typer.echo(
            "warning: another process holds the database open, so old page images may remain in the "
            "write-ahead log until the next checkpoint; run `gtm erase` again once it is closed",
            err=True,
        )


@app.command()
def export(email: Annotated[str, typer.Argument(help="The person's email address.")]) -> None:
    """Print everything held about a person as JSON (the data principal's access right)."""
    from gtm_pipeline.pipeline.privacy import export as export_subject

    store = _store()
    try:
        data = export_subject(store, email, now=dt.datetime.now(dt.UTC))
    finally:
        store.close()
    typer.echo(json.dumps(data, indent=2, default=str))


rights_app = typer.Typer(help="Data-principal rights requests (access, correction, erasure, grievance).")
app.add_typer(rights_app, name="rights")


@rights_app.command("add")
def rights_add(
    kind: Annotated[str, typer.Option(help="access | correction | erasure | grievance")],
    email: Annotated[str, typer.Option(help="The requester's email address (only its hash is stored).")],
) -> None:
    """Record a request received by mail or phone, with its due date."""
    from gtm_pipeline.pipeline.privacy import record_request, response_days

    store = _store()
    try:
        request_id = record_request(store, kind=kind, email=email, now=dt.datetime.now(dt.UTC))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    finally:
        store.close()
    typer.echo(f"recorded {kind} request #{request_id}, due in {response_days()} days")


@rights_app.command("list")
def rights_list(
    show_all: Annotated[bool, typer.Option("--all", help="Include completed requests.")] = False,
) -> None:
    """Open rights requests by due date (overdue first)."""
    store = _store()
    try:
        requests = store.rights_requests(status=None if show_all else "open")
    finally:
        store.close()
    now = dt.datetime.now(dt.UTC)
    for r in requests:
        flag = "OVERDUE " if r["status"] == "open" and r["due_at"] < now else ""
        typer.echo(
            f"#{r['id']:<4} {flag}{r['kind']:<10} {r['status']:<9} due {r['due_at']:%Y-%m-%d} "
            f"{r['prospect_id'] or '-'}"
        )
    typer.echo(f"{len(requests)} request(s)")


@rights_app.command("complete")
def rights_complete(
    request_id: Annotated[int, typer.Argument(help="The request number (gtm rights list).")],
    outcome: Annotated[str, typer.Option(help="What was done (no personal data: it is kept for the audit).")],
) -> None:
    """Mark a request answered (a correction made, a grievance resolved)."""
    store = _store()
    try:
        store.complete_rights_request(request_id, outcome=outcome)
    finally:
        store.close()
    typer.echo(f"request #{request_id} completed")


review_app = typer.Typer(help="The operator's review queue.")
app.add_typer(review_app, name="review")


def _operator() -> str:
    return "operator:" + os.environ.get("GTM_OPERATOR", "cli")


@review_app.command("approve")
def review_approve(
    review_id: Annotated[int, typer.Argument(help="The review item number (gtm status).")],
    note: Annotated[str, typer.Option(help="Why, for the journal.")] = "approved as drafted",
) -> None:
    """Approve a draft: a journaled operator decision that moves the prospect to approved."""
    _decide(review_id, approve=True, reason=note)


@review_app.command("reject")
def review_reject(
    review_id: Annotated[int, typer.Argument(help="The review item number (gtm status).")],
    reason: Annotated[str, typer.Option(help="Why the draft was rejected (kept in the journal).")],
) -> None:
    """Reject a draft with a reason: the prospect returns to qualified for a new draft."""
    _decide(review_id, approve=False, reason=reason)


def _decide(review_id: int, *, approve: bool, reason: str) -> None:
    store = _store()
    try:
        decision = store.decide_review(review_id, approve=approve, actor=_operator(), reason=reason)
    except (KeyError, ValueError) as exc:
        typer.echo(str(exc).strip("'\""), err=True)
        raise typer.Exit(2) from exc
    finally:
        store.close()
    if not decision.allowed:
        typer.echo(f"rejected by the state machine: {decision.reason}", err=True)
        raise typer.Exit(1)
    typer.echo(f"#{review_id}: {decision.reason}")


rules_app = typer.Typer(help="The time-based rules of the state machine.")
app.add_typer(rules_app, name="rules")


@rules_app.command("apply")
def rules_apply(
    at: Annotated[str | None, typer.Option("--at", help="Evaluate at this time (default now).")] = None,
) -> None:
    """Apply the rules due now (what the hourly Dagster schedule does)."""
    from gtm_pipeline.pipeline.privacy import retention_days
    from gtm_pipeline.pipeline.timekeeping import apply, plan, sequence_policy
    from gtm_pipeline.skills.catalog import load_catalog

    moment = _parse_time(at) if at else dt.datetime.now(dt.UTC)
    store = _store()
    try:
        planned = plan(store, sequence_policy(load_catalog(paths().skills_dir)), moment, retention_days())
        decisions = apply(store, planned, moment)
    finally:
        store.close()
    for item in planned:
        typer.echo(item.describe())
    typer.echo(
        f"applied {len(decisions)} transition(s) and {sum(p.retention for p in planned)} retention erasure(s)"
    )


@app.command()
def costs(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Tokens and dollars: per day, group, provider and model; per skill; the costliest prospects."""
    from gtm_pipeline.reporting import cost_report

    store = _store()
    try:
        report = cost_report(store)
    finally:
        store.close()
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


inbox_app = typer.Typer(no_args_is_help=True, help="Provider events and replies.")
sending_app = typer.Typer(no_args_is_help=True, help="The sending domain's halt state.")
app.add_typer(inbox_app, name="inbox")
app.add_typer(sending_app, name="sending")
escalations_app = typer.Typer(no_args_is_help=True, help="Failures waiting for the operator.")
app.add_typer(escalations_app, name="escalations")


@escalations_app.command("ack")
def escalations_ack(
    escalation_id: Annotated[int, typer.Argument(help="The escalation's number (gtm status).")],
    note: Annotated[str, typer.Option(help="What was done about it.")] = "",
) -> None:
    """Acknowledge an escalation (journaled); it leaves gtm status and the console."""
    from gtm_pipeline.store.escalations import Escalations

    store = _store()
    try:
        done = Escalations(store).acknowledge(escalation_id, actor=_operator(), note=note)
    finally:
        store.close()
    if not done:
        typer.echo(f"escalation #{escalation_id} is unknown or already acknowledged", err=True)
        raise typer.Exit(1)
    typer.echo(f"escalation #{escalation_id} acknowledged")


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
) -> None:
    """Run the webhook receiver, the one-click unsubscribe endpoint and the operator console."""
    import os

    import uvicorn

    from gtm_pipeline.app import create_app

    typer.echo(f"receiver on http://{host}:{port}/webhooks/resend  (unsubscribe: /unsubscribe/<token>)")
    if console:
        typer.echo(
            f"console  on http://{host}:{port}/  (operator: {os.environ.get('GTM_OPERATOR', 'operator')})"
        )
        if not os.environ.get("GTM_OPERATOR_PASSWORD"):
            typer.echo("  GTM_OPERATOR_PASSWORD is not set: the console will refuse every login", err=True)
    # no access log: URLs carry only opaque ids, but nothing about a request needs to be kept
    uvicorn.run(create_app(console=console), host=host, port=port, log_level="info", access_log=False)


@app.command()
def classify(
    file: Annotated[str, typer.Argument(help="A raw email (RFC 822), e.g. a saved .eml file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Classify one raw email: rules first, then the classify-reply skill."""
    from pathlib import Path

    from gtm_pipeline.outreach.classify import classify as run_classify
    from gtm_pipeline.outreach.mailparse import parse_mail
    from gtm_pipeline.pipeline.services import Services

    raw = Path(file).read_bytes()
    mail = parse_mail(raw)
    services = Services.from_environment(paths())
    try:
        from gtm_pipeline.domain.ids import content_hash

        received = mail.date or dt.datetime.now(dt.UTC)
        result = run_classify(
            mail,
            received,
            catalog=services.catalog,
            runner=services.runner,
            subject=f"mail:{content_hash(raw)[:16]}",
        )
    finally:
        services.close()
    data = result.as_json()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"{data['category']}  (decided by {data['decided_by']})")
    for key in ("hard_bounce", "resume_on", "revisit_on", "referral_to", "erasure_requested"):
        if data.get(key):
            typer.echo(f"  {key}: {data[key]}")


@app.command()
def send(
    at: Annotated[str | None, typer.Option(help="Pretend it is this time (ISO 8601, UTC).")] = None,
) -> None:
    """Schedule approved drafts and send what the deliverability policy allows now (needs RESEND_API_KEY)."""
    from collections import Counter

    from gtm_pipeline.outreach.resend_client import ResendClient, SendingNotConfiguredError
    from gtm_pipeline.outreach.sender import run_sending
    from gtm_pipeline.outreach.settings import sending_settings

    try:
        client = ResendClient.from_environment()
    except SendingNotConfiguredError as exc:
        typer.echo(f"{exc}. Drafts stay approved; nothing was sent.", err=True)
        raise typer.Exit(2) from None
    store = _store()
    try:
        now = _parse_time(at) if at else dt.datetime.now(dt.UTC)
        reports = run_sending(store, sending_settings(paths().home), client, now)
    finally:
        store.close()
    for report in reports:
        typer.echo(f"{report.prospect_id}  {report.outcome:<10} {report.rule}: {report.reason[:80]}")
    typer.echo(dict(Counter(r.outcome for r in reports)))


@inbox_app.command("process")
def inbox_process() -> None:
    """Turn stored provider events and replies into transitions (the inbox sensor does this in Dagster)."""
    from gtm_pipeline.app import receiving_fetch
    from gtm_pipeline.outreach.inbound import Processor
    from gtm_pipeline.pipeline.services import Services

    services = Services.from_environment(paths())
    try:
        outcomes = Processor(services.store, services.catalog, services.runner, receiving_fetch()).process()
    finally:
        services.close()
    for item in outcomes:
        detail = item.get("to") or item.get("note") or ""
        who, category = item.get("prospect_id") or "-", item.get("category") or ""
        typer.echo(f"#{item['event_id']:<6} {who:<24} {category} {detail}")
    typer.echo(f"{len(outcomes)} event(s) processed")


@sending_app.command("resume")
def sending_resume(reason: Annotated[str, typer.Option(help="Why sending may resume.")]) -> None:
    """Lift the halt of the sending domain (after fixing what raised bounces or complaints)."""
    from gtm_pipeline.outreach.sender import resume_domain
    from gtm_pipeline.outreach.settings import sending_settings

    store = _store()
    try:
        resume_domain(store, sending_settings(paths().home).sending_domain, actor=_operator(), reason=reason)
    finally:
        store.close()
    typer.echo("sending resumed")


@app.command()
def rehearse(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Rehearse the campaign against the Resend twin: approve, send, replies and bounces, process."""
    from gtm_pipeline.outreach.rehearsal import rehearse as run_rehearsal
    from gtm_pipeline.pipeline.services import Services

    services = Services.from_environment(paths())
    try:
        report = run_rehearsal(services)
    finally:
        services.close()
    data = report.as_json()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"rehearsed {len(data['behaviours'])} prospects over {data['days']} simulated day(s)")
    for pid, behaviour in data["behaviours"].items():
        typer.echo(f"  {pid}  {behaviour:<12} -> {data['states'][pid]}")
    typer.echo(
        f"suppressions: {data['suppressions']}; most sends of one touch: {data['max_sends_per_touch']}"
    )


if __name__ == "__main__":  # pragma: no cover
    app()
