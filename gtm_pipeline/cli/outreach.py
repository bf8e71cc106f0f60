"""Mail: ``sending`` on and off, ``send``, ``inbox process``, ``classify`` and ``rehearse``."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from gtm_pipeline.cli import app
from gtm_pipeline.cli.common import (
    CommandError,
    clock,
    moment,
    open_services,
    open_store,
    operator,
    settings,
)
from gtm_pipeline.domain.clock import FixedClock

inbox_app = typer.Typer(no_args_is_help=True, help="Provider events and replies.")
sending_app = typer.Typer(no_args_is_help=True, help="Whether mail goes out, and the sending domain's halt.")
app.add_typer(inbox_app, name="inbox")
app.add_typer(sending_app, name="sending")


def _schedule(running: bool) -> str:
    """Start or stop Dagster's send schedule on this workspace's instance; returns what became of it
    (``running``, ``stopped``, or ``unknown`` when the instance could not be reached)."""
    import dagster as dg

    from gtm_pipeline.dagster_control import set_schedule
    from gtm_pipeline.defs.names import SEND_SCHEDULE
    from gtm_pipeline.orchestrate import prepare_dagster_home

    prepare_dagster_home(settings())
    try:
        with dg.DagsterInstance.get() as instance:
            return set_schedule(instance, SEND_SCHEDULE, running=running)
    except Exception as exc:  # the switch is what decides; say why the timer could not follow it
        typer.echo(f"the Dagster schedule could not be changed: {type(exc).__name__}: {exc}", err=True)
        return "unknown"


@sending_app.command("start")
def sending_start(
    reason: Annotated[
        str, typer.Option(help="Why sending may start (kept in the journal).")
    ] = "operator start",
) -> None:
    """Switch sending on (journaled) and start Dagster's send schedule."""

    schedule = _schedule(running=True)
    with open_store() as store:
        store.ledger.switch_sending(True, actor=operator(), reason=reason, schedule=schedule)
    typer.echo(f"sending is ON (schedule {schedule}); `gtm sending stop` switches it off")


@sending_app.command("stop")
def sending_stop(
    reason: Annotated[str, typer.Option(help="Why sending stops (kept in the journal).")] = "operator stop",
) -> None:
    """Switch sending off (journaled): from this moment nothing is sent. Then stop Dagster's send schedule."""

    with open_store() as store:  # off first: the send step reads the switch before every email
        store.ledger.switch_sending(False, actor=operator(), reason=reason, schedule="stop requested")
    schedule = _schedule(running=False)
    typer.echo(f"sending is off (schedule {schedule})")
    if schedule != "stopped":
        typer.echo(
            "the send schedule may still tick (each tick sends nothing): stop it in the Dagster UI", err=True
        )


@sending_app.command("resume")
def sending_resume(reason: Annotated[str, typer.Option(help="Why sending may resume.")]) -> None:
    """Lift the halt of the sending domain (after fixing what raised bounces or complaints)."""
    from gtm_pipeline.outreach.sender import resume_domain
    from gtm_pipeline.outreach.settings import sending_settings

    with open_store() as store:
        resume_domain(store, sending_settings(settings()).sending_domain, actor=operator(), reason=reason)
    typer.echo("sending resumed")


@app.command()
def send(
    at: Annotated[
        str | None, typer.Option(help="Pretend it is this time (ISO 8601, UTC, or an offset such as +2d).")
    ] = None,
) -> None:
    """Schedule approved drafts and send what the deliverability policy allows now (needs RESEND_API_KEY)."""
    from gtm_pipeline.outreach.resend_client import ResendClient, SendingNotConfiguredError
    from gtm_pipeline.outreach.sender import run_sending
    from gtm_pipeline.outreach.settings import sending_settings

    current = settings()
    try:
        client = ResendClient.from_settings(current)
    except SendingNotConfiguredError as exc:
        raise CommandError(f"{exc}. Drafts stay approved; nothing was sent.") from None
    now = moment(at)
    with open_store(FixedClock(now) if at else None) as store:
        if not store.ledger.sending_on():
            raise CommandError(
                "sending is switched off: `gtm sending start` switches it on; nothing was sent"
            )
        reports = run_sending(store, sending_settings(current), client, now)
    for report in reports:
        typer.echo(f"{report.prospect_id}  {report.outcome:<10} {report.rule}: {report.reason[:80]}")
    typer.echo(dict(Counter(r.outcome for r in reports)))


@inbox_app.command("process")
def inbox_process() -> None:
    """Turn stored provider events and replies into transitions (the inbox sensor does this in Dagster)."""
    from gtm_pipeline.app import receiving_fetch
    from gtm_pipeline.outreach.processing import InboxProcessor

    current = settings()
    with open_services() as services:
        outcomes = InboxProcessor(
            services.store,
            services.catalog,
            services.runner,
            receiving_fetch(current),
            response_days=current.privacy.rights_response_days,
        ).process()
    for item in outcomes:
        detail = item.result.to or item.result.note or ""
        typer.echo(f"#{item.event_id:<6} {item.prospect_id or '-':<24} {item.category or ''} {detail}")
    typer.echo(f"{len(outcomes)} event(s) processed")


@app.command()
def classify(
    file: Annotated[Path, typer.Argument(help="A raw email (RFC 822), e.g. a saved .eml file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    record: Annotated[
        bool, typer.Option("--record", help="Keep the skill call (journal, spend) in the workspace's store.")
    ] = False,
) -> None:
    """Classify one raw email: rules first, then the classify-reply skill. Reads and prints only,
    unless --record."""
    from gtm_pipeline.domain.ids import content_hash
    from gtm_pipeline.outreach.classify import classify as run_classify
    from gtm_pipeline.outreach.mailparse import parse_mail
    from gtm_pipeline.pipeline.services import Services
    from gtm_pipeline.store import Store

    if not file.is_file():
        raise CommandError(f"no such file: {file} (give the path of a saved .eml message)")
    raw = file.read_bytes()
    mail = parse_mail(raw)
    current = settings()
    with tempfile.TemporaryDirectory(prefix="gtm-classify-") as scratch:
        # Without --record the skill's journal entries and spend go to a scratch store, then vanish.
        store = None if record else Store.open(f"sqlite:///{Path(scratch) / 'scratch.sqlite'}", clock=clock())
        services = Services.from_settings(current, clock=clock(), store=store)
        try:
            result = run_classify(
                mail,
                mail.date or services.clock.now(),
                catalog=services.catalog,
                runner=services.runner,
                subject=f"mail:{content_hash(raw)[:16]}",
            )
            spent = sum(float(row["cost_usd"]) for row in services.store.spend.rows())
        finally:
            services.close()
    data = result.as_json()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        typer.echo(f"{data['category']}  (decided by {data['decided_by']})")
        for key in ("hard_bounce", "resume_on", "revisit_on", "referral_to", "erasure_requested"):
            if data.get(key):
                typer.echo(f"  {key}: {data[key]}")
    if not record and spent > 0:
        typer.echo(f"this classification cost ${spent:.6f}, not recorded (--record keeps it)", err=True)


@app.command()
def rehearse(
    home: Annotated[
        Path | None,
        typer.Option("--home", help="An empty folder for the rehearsal's copy (kept afterwards)."),
    ] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep the temporary copy to look at it (it holds personal data).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Rehearse the campaign on a copy of the store, against the Resend twin: approve, send, replies and
    bounces, process. The workspace's own store is only read."""
    from gtm_pipeline.pipeline.services import Services
    from gtm_pipeline.rehearsal import rehearse as run_rehearsal

    current = settings()
    target = (home or Path(tempfile.mkdtemp(prefix="gtm-rehearsal-"))).resolve()
    if target == current.paths.home or (target.exists() and any(target.iterdir())):
        raise CommandError(f"{target} is not an empty folder: a rehearsal needs one of its own")
    target.mkdir(parents=True, exist_ok=True)
    target.chmod(0o700)  # the copy holds the same personal data as the store
    rehearsal = current.with_home(target)
    # The outbox's links were signed with this workspace's key: the copy verifies them with the same one.
    keys = current.paths.home / "secrets"
    if keys.is_dir():
        shutil.copytree(keys, target / "secrets")
    with open_store(read_only=True) as source:
        copy = source.copy_into(rehearsal.paths.database_url)
    services = Services.from_settings(rehearsal, store=copy)
    try:
        report = run_rehearsal(services, meetings=True)
    finally:
        services.close()
    kept = home is not None or keep
    if not kept:
        shutil.rmtree(target)  # erasures never reach a copy left behind, so none is left behind
    data = {**report.as_json(), "home": str(target) if kept else None}
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    where = f"in {target}" if kept else "(deleted afterwards; --keep keeps it)"
    typer.echo(f"rehearsal on a copy {where}; your store at {current.paths.home} was only read")
    typer.echo(f"rehearsed {len(data['behaviours'])} prospects over {data['days']} simulated day(s)")
    for pid, behaviour in data["behaviours"].items():
        typer.echo(f"  {pid}  {behaviour:<12} -> {data['states'][pid]}")
    for pid, done in data.get("meetings", {}).items():
        typer.echo(f"  {pid}  meetings: {done} -> {data['states'][pid]}")
    if "crm_companies" in data:
        typer.echo(f"CRM twin holds {len(data['crm_companies'])} companies; deals won: {len(data['won'])}")
    typer.echo(
        f"suppressions: {data['suppressions']}; most sends of one touch: {data['max_sends_per_touch']}"
    )
    if kept:
        typer.echo(f"to look at it: GTM_HOME={target} gtm status")
