"""The rights of the people in the data (DPDP): ``erase``, ``export`` and ``rights``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gtm_pipeline.cli import app
from gtm_pipeline.cli.common import CommandError, clock, open_store, print_json, settings

if TYPE_CHECKING:
    from gtm_pipeline.pipeline.privacy import ErasureReport

rights_app = typer.Typer(
    no_args_is_help=True, help="Data-principal rights requests (access, correction, erasure, grievance)."
)
app.add_typer(rights_app, name="rights")


@app.command()
def erase(
    target: Annotated[
        str | None,
        typer.Argument(
            help="The person's email address in any form (KIM@X, mailto:kim@x, '\"Kim Lee\" <kim@x>'), "
            "or a prospect id (p_...)."
        ),
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--file", help="Erase many: a text file with one address or prospect id per line (# comments)."
        ),
    ] = None,
    reason: Annotated[str, typer.Option(help="Why (kept in the audit trail).")] = "data principal request",
) -> None:
    """Erase a person's data (DPDP): tombstone it, suppress the identity forever, journal the request.

    By address, the person is followed beyond their prospects: a reply of theirs that matched no
    touch goes, and where someone else named them (a referral) only their address is removed.
    With ``--file``, every line is erased in turn; a line that cannot be is reported by its number
    (never echoed: it may be an address) and the rest still go."""
    if (target is None) == (from_file is None):
        raise CommandError("give one address or prospect id, or --file with one per line")
    if from_file is not None:
        _erase_many(from_file, reason)
        return
    assert target is not None
    report = _erase_one(target, reason)
    typer.echo(
        f"erased {len(report.prospect_ids)} prospect(s) {report.prospect_ids}; tombstoned {report.counts}; "
        f"identity {report.subject_hash} suppressed; request #{report.request_id} completed"
    )
    if not report.compacted:
        _warn_not_compacted()


def _erase_one(target: str, reason: str) -> ErasureReport:
    """Erase one subject; an unknown or malformed one is a :class:`CommandError`."""
    from gtm_pipeline.pipeline.privacy import UnknownSubjectError
    from gtm_pipeline.pipeline.privacy import erase as erase_subject
    from gtm_pipeline.sources.web import page_cache

    with open_store() as store:
        try:
            return erase_subject(
                store,
                target,
                reason=reason,
                now=store.now(),
                response_days=settings().privacy.rights_response_days,
                pages=page_cache(settings()),
            )
        except UnknownSubjectError as exc:
            raise CommandError(f"{exc} (gtm status lists the prospects)") from None
        except ValueError as exc:
            raise CommandError(str(exc)) from None


def _erase_many(path: Path, reason: str) -> None:
    """``gtm erase --file``: each line erased in turn, with a bar; failures listed by line number."""
    from gtm_pipeline.cli.progress import progress_bar

    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    lines = [
        (number, line.strip())
        for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    erased, failed, compacted = 0, [], True
    with progress_bar("people erased", len(lines)) as advance:
        for done, (number, line) in enumerate(lines, start=1):
            try:
                report = _erase_one(line, reason)
            except CommandError as exc:
                failed.append((number, str(exc)))
            except Exception as exc:  # the database busy, say: this line waits, the rest still go
                failed.append((number, f"{type(exc).__name__}: {exc}"))
            else:
                erased += 1
                compacted = compacted and report.compacted
            advance(done, None)
    for number, why in failed:
        # The line itself is not printed: it may hold an address that was not erased.
        typer.echo(f"  line {number} not erased: {_without_address(why)}", err=True)
    typer.echo(f"erased {erased} of {len(lines)} line(s) of {path.name}; {len(failed)} not erased")
    if not compacted:
        _warn_not_compacted()
    if failed:
        raise typer.Exit(1)


def _without_address(message: str) -> str:
    """An error message with anything address-shaped masked (it goes to a terminal or a log)."""
    import re

    return re.sub(r"\S+@\S+", "<address>", message)


def _warn_not_compacted() -> None:
    typer.echo(
        "warning: another process holds the database open, so old page images may remain in the "
        "write-ahead log until the next checkpoint; run `gtm erase` again once it is closed",
        err=True,
    )


@app.command()
def export(email: Annotated[str, typer.Argument(help="The person's email address (any form).")]) -> None:
    """Print everything held about a person as JSON (the data principal's access right): their
    prospects' records, their own replies, the emails sent to them and where else they were named."""
    from gtm_pipeline.pipeline.privacy import export as export_subject

    with open_store() as store:
        try:
            data = export_subject(
                store, email, now=store.now(), response_days=settings().privacy.rights_response_days
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    typer.echo(json.dumps(data, indent=2, default=str))


@rights_app.command("add")
def rights_add(
    kind: Annotated[str, typer.Option(help="access | correction | erasure | grievance")],
    email: Annotated[str, typer.Option(help="The requester's email address (only its hash is stored).")],
) -> None:
    """Record a request received by mail or phone, with its due date."""
    from gtm_pipeline.pipeline.privacy import record_request

    days = settings().privacy.rights_response_days
    with open_store() as store:
        try:
            request_id = record_request(store, kind=kind, email=email, now=store.now(), response_days=days)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    typer.echo(f"recorded {kind} request #{request_id}, due in {days} days")


@rights_app.command("list")
def rights_list(
    show_all: Annotated[bool, typer.Option("--all", help="Include completed requests.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Open rights requests by due date (overdue first)."""
    with open_store() as store:
        requests = store.privacy.rights_requests(status=None if show_all else "open")
    now = clock().now()
    if as_json:
        print_json([{**r, "overdue": r["status"] == "open" and r["due_at"] < now} for r in requests])
        return
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
    with open_store() as store:
        if not any(r["id"] == request_id for r in store.privacy.rights_requests(status="open")):
            raise CommandError(f"no open rights request #{request_id} (gtm rights list shows them)")
        store.privacy.complete_rights_request(request_id, outcome=outcome)
    typer.echo(f"request #{request_id} completed")
