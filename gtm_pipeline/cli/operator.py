"""The operator's decisions at the terminal: ``review`` and ``escalations``.

Review items are named by their stable key (``r3f9a2c1b0d4e``, as the console shows it): the same
draft of the same prospect has the same key on every fresh demo, where row numbers followed the
order workers finished. A row number or a prospect id still names an item. Company names are shown
here (the operator's terminal), never sent to Dagster.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer

from gtm_pipeline.cli import app
from gtm_pipeline.cli.common import CommandError, open_services, open_store, operator

if TYPE_CHECKING:
    from gtm_pipeline.store import ReviewItem, Store

review_app = typer.Typer(no_args_is_help=True, help="The operator's review queue.")
app.add_typer(review_app, name="review")
escalations_app = typer.Typer(no_args_is_help=True, help="Failures waiting for the operator.")
app.add_typer(escalations_app, name="escalations")

ReviewRef = Annotated[
    str, typer.Argument(help="The review's key (gtm review list), its old number, or the prospect id.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
EDIT_HELP = (
    "# Edit the subject line and the body below; lines starting with '#' at the top are dropped.\n"
    "# Save and quit to approve the edited draft; quit without saving to leave it waiting.\n"
)


def _resolve(store: Store, ref: str) -> ReviewItem:
    from gtm_pipeline.store.reviews import AmbiguousReviewError

    try:
        item = store.reviews.resolve(ref)
    except AmbiguousReviewError as exc:
        raise CommandError(str(exc)) from None
    if item is None:
        shown = f"#{ref}" if ref.isdigit() else ref
        raise CommandError(f"no review item {shown} (gtm status or gtm review list shows the items waiting)")
    return item


@review_app.command("list")
def review_list(
    as_json: AsJson = False,
    hypothesis: Annotated[str | None, typer.Option(help="Only this hypothesis.")] = None,
    group: Annotated[str | None, typer.Option(help="Only drafts of this skill group.")] = None,
    min_conf: Annotated[int | None, typer.Option(min=0, max=100, help="Draft confidence from (%).")] = None,
    max_conf: Annotated[int | None, typer.Option(min=0, max=100, help="Draft confidence to (%).")] = None,
) -> None:
    """The drafts waiting for a decision, oldest first, with the company and what qualified it."""
    from gtm_pipeline.console import review_queue
    from gtm_pipeline.console.review_queue import ReviewFilters

    filters = ReviewFilters(hypothesis, group, min_conf, max_conf)
    with open_store(read_only=True) as store:
        queued = review_queue.ordered(store, filters, with_confidence=True)
        names = store.prospects.company_names(q.prospect_id for q in queued)
        rows = [
            {
                "key": q.key,
                "id": q.id,
                "prospect_id": q.prospect_id,
                "company": names.get(q.prospect_id),
                "confidence": q.confidence,
            }
            for q in queued
        ]
    if as_json:
        typer.echo(json.dumps({"reviews": rows}, indent=2))
        return
    if not rows:
        typer.echo("nothing waits for review")
        return
    for r in rows:
        confidence = f"{r['confidence'] * 100:3.0f}%" if r["confidence"] is not None else "   -"
        typer.echo(f"{r['key']}  {confidence}  {r['company'] or '?'}  ({r['prospect_id']}, #{r['id']})")
    typer.echo(f"{len(rows)} waiting · gtm review show KEY · approve KEY · reject KEY --reason ...")


@review_app.command("show")
def review_show(ref: ReviewRef, as_json: AsJson = False) -> None:
    """One review item: the draft, the evidence (each quote once) and why the prospect is here."""
    from gtm_pipeline.console import review_queue

    with open_store(read_only=True) as store:
        view = review_queue.card(store, _resolve(store, ref).id)
    if view is None:  # erased between the two reads
        raise CommandError(f"review item {ref} is gone")
    shown = review_queue.as_json(view)
    if as_json:
        typer.echo(json.dumps(shown, indent=2))
        return
    _print_card(shown)


def _print_card(v: dict[str, Any]) -> None:
    typer.echo(
        f"{v['key']} · {v['kind']} · {v['status']} · {v['company'] or v['prospect_id']} ({v['domain']})"
    )
    typer.echo(f"  prospect {v['prospect_id']} ({v['state']}) · {v['hypothesis']} · #{v['id']}")
    typer.echo(f"  {v['skill']}@{v['skill_version']} in {v['group']}")
    if v["violations"]:
        typer.echo(f"  policy: {'; '.join(v['violations'])}")
    q = v["qualified_by"]
    parts = []
    if q["score"] is not None:
        parts.append(f"score {q['score']:.2f}")
    if q["signal"]:
        parts.append(f"{q['signal']['kind']} ({q['signal']['date']})")
    if q["fit"]:
        parts.append(f"{q['fit']} {q['fit_score']:.2f}")
    typer.echo("qualified by: " + (" · ".join(parts) or "nothing journaled"))
    draft = v["draft"]
    if draft:
        typer.echo(f"\ndraft (confidence {draft['confidence']:.2f}): {draft['rationale']}")
        typer.echo(f"Subject: {draft['subject']}\n")
        typer.echo(draft["body"])
    why = v["why"]
    if why and why["signals"]:
        typer.echo("\nwhy it is here:")
        for s in why["signals"]:
            part = f"{s['contribution']:.2f}" if s["contribution"] is not None else "not scored"
            later = " (seen later)" if s["observed_later"] else ""
            typer.echo(f"  {s['kind']}{later} {s['date']} [{part}] “{s['quote'][:160]}” {s['url']}")
    if v["evidence"]:
        typer.echo("\nevidence:")
        for e in v["evidence"]:
            typer.echo(f"  “{e['quote']}” — {e['source_id']} {e['url'] or ''} ({', '.join(e['used_by'])})")


@review_app.command("approve")
def review_approve(
    ref: ReviewRef,
    note: Annotated[str, typer.Option(help="Why, for the journal.")] = "approved as drafted",
) -> None:
    """Approve a draft: a journaled operator decision that moves the prospect to approved."""
    from gtm_pipeline.console.actions import ActionError, approve

    with open_services() as services:
        item = _resolve(services.store, ref)
        label = _label(services.store, item)
        try:
            result = approve(services, item.id, actor=operator(), reason=note, schedule_send=False)
        except ActionError as exc:
            raise CommandError(f"{label}: {exc}") from None
    typer.echo(f"{label}: {'audited: fine' if result.decision is None else result.decision.reason}")


@review_app.command("reject")
def review_reject(
    ref: ReviewRef,
    reason: Annotated[str, typer.Option(help="Why the draft was rejected (kept in the journal).")],
) -> None:
    """Reject a draft with a reason: the prospect returns to qualified for a new draft."""
    from gtm_pipeline.console.actions import ActionError, reject

    with open_services() as services:
        item = _resolve(services.store, ref)
        label = _label(services.store, item)
        try:
            decision = reject(services, item.id, actor=operator(), reason=reason)
        except ActionError as exc:
            raise CommandError(f"{label}: {exc}") from None
    typer.echo(f"{label}: {'audited: recorded' if decision is None else decision.reason}")


@review_app.command("edit")
def review_edit(
    ref: ReviewRef,
    note: Annotated[str, typer.Option(help="Why, for the journal.")] = "edited then approved",
) -> None:
    """Edit a draft in $EDITOR, then approve the edit, as the console's edit does: the edit is a new
    draft version (journaled with its size) and the send step sends it. Unchanged: nothing done."""
    from gtm_pipeline.console import review_queue
    from gtm_pipeline.console.actions import ActionError, approve

    with open_services() as services:
        item = _resolve(services.store, ref)
        label = _label(services.store, item)
        view = review_queue.card(services.store, item.id)
        if item.status != "pending" or item.kind == "audit_sample" or view is None or not view["draft"]:
            raise CommandError(f"{label} is not a pending draft: nothing to edit")
        draft = view["draft"]
        original = f"Subject: {draft['subject']}\n\n{draft['body']}\n"
        try:
            text = click.edit(EDIT_HELP + original, extension=".txt", require_save=True)
        except click.ClickException as exc:  # no editor found, or it failed
            raise CommandError(f"could not open an editor ({exc.format_message()}): set $EDITOR") from None
        if text is None:
            typer.echo(f"{label}: not saved; the draft still waits")
            return
        subject, body = _parse_edit(text)
        if (subject, body) == (draft["subject"].strip(), draft["body"].strip()):
            typer.echo(f"{label}: unchanged; the draft still waits")
            return
        try:
            result = approve(
                services,
                item.id,
                actor=operator(),
                reason=note,
                subject=subject,
                body=body,
                schedule_send=False,
            )
        except ActionError as exc:
            raise CommandError(f"{label}: {exc}") from None
    assert result.decision is not None
    typer.echo(f"{label}: edited (new version {result.edited_artifact}); {result.decision.reason}")


def _parse_edit(text: str) -> tuple[str, str]:
    """The subject and body of an edited draft file (leading ``#`` lines are instructions)."""
    lines = text.splitlines()
    while lines and (lines[0].startswith("#") or not lines[0].strip()):
        lines.pop(0)
    if not lines or not lines[0].lower().startswith("subject:"):
        raise CommandError("the edited text must start with a 'Subject:' line; nothing was changed")
    subject = lines[0].split(":", 1)[1].strip()
    return subject, "\n".join(lines[1:]).strip()


def _label(store: Store, item: ReviewItem) -> str:
    from gtm_pipeline.store.reviews import review_key

    company = store.prospects.company_names([item.prospect_id]).get(item.prospect_id, item.prospect_id)
    return f"{review_key(item.artifact_id)} ({company}, #{item.id})"


@escalations_app.command("ack")
def escalations_ack(
    escalation_id: Annotated[int, typer.Argument(help="The escalation's number (gtm status).")],
    note: Annotated[str, typer.Option(help="What was done about it.")] = "",
) -> None:
    """Acknowledge an escalation (journaled); it leaves gtm status and the console."""

    with open_store() as store:
        done = store.escalations.acknowledge(escalation_id, actor=operator(), note=note)
    if not done:
        raise CommandError(f"escalation #{escalation_id} is unknown or already acknowledged", code=1)
    typer.echo(f"escalation #{escalation_id} acknowledged")
