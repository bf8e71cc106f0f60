"""The operator's decisions at the terminal: ``review`` and ``escalations``."""

from __future__ import annotations

from typing import Annotated

import typer

from gtm_pipeline.cli import app
from gtm_pipeline.cli.common import CommandError, open_store, operator

review_app = typer.Typer(no_args_is_help=True, help="The operator's review queue.")
app.add_typer(review_app, name="review")
escalations_app = typer.Typer(no_args_is_help=True, help="Failures waiting for the operator.")
app.add_typer(escalations_app, name="escalations")


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
    with open_store() as store:
        try:
            decision = store.reviews.decide(review_id, approve=approve, actor=operator(), reason=reason)
        except KeyError:
            raise CommandError(f"no review item #{review_id} (gtm status lists the items waiting)") from None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    if not decision.allowed:
        raise CommandError(f"rejected by the state machine: {decision.reason}", code=1)
    typer.echo(f"#{review_id}: {decision.reason}")


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
