"""``gtm alerts test`` and ``gtm alerts send``: escalations on Slack and/or Telegram.

``test`` posts one message to each configured channel now (nothing is written), so an operator sees
the channel works before relying on it. ``send`` runs one dispatch pass now, as Dagster's
``escalation_alerts`` sensor does every minute: each open escalation not yet posted is posted once
per channel; acknowledged ones are closed, not posted. Outcomes are printed with ids, kinds and
channels only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from gtm_pipeline.cli import app
from gtm_pipeline.cli.common import CommandError, open_store, print_json, settings

if TYPE_CHECKING:
    from gtm_pipeline.alerts.channels import Channel

alerts_app = typer.Typer(no_args_is_help=True, help="Escalations on Slack and/or Telegram.")
app.add_typer(alerts_app, name="alerts")


def _channels() -> list[Channel]:
    from gtm_pipeline.alerts.setup import NOT_CONFIGURED, channels_from_settings

    try:
        channels = channels_from_settings(settings())
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if not channels:
        raise CommandError(NOT_CONFIGURED)
    return channels


@alerts_app.command("test")
def alerts_test(
    as_json: Annotated[bool, typer.Option("--json", help="The outcome per channel as JSON.")] = False,
) -> None:
    """Post a test message to every configured channel now; exit 1 if one did not take it."""
    from gtm_pipeline.alerts.channels import PostFailed
    from gtm_pipeline.alerts.message import probe_alert

    outcomes: dict[str, str] = {}
    for channel in _channels():
        try:
            requests = channel.post(probe_alert(settings().alerts.console_url))
            outcomes[channel.name] = f"posted ({requests} request(s))"
        except PostFailed as failure:
            outcomes[channel.name] = f"failed: {failure.reason}" + (
                f": {failure.detail}" if failure.detail else ""
            )
        finally:
            channel.close()
    if as_json:
        print_json(outcomes)
    else:
        for name, outcome in outcomes.items():
            typer.echo(f"{name}: {outcome}")
    if any(o.startswith("failed") for o in outcomes.values()):
        raise typer.Exit(1)


@alerts_app.command("send")
def alerts_send(
    as_json: Annotated[bool, typer.Option("--json", help="The pass as JSON.")] = False,
) -> None:
    """Post every open escalation not yet posted (once per channel) now; close acknowledged ones."""
    from gtm_pipeline.alerts.dispatch import dispatch

    channels = _channels()
    try:
        with open_store() as store:
            report = dispatch(store, channels, settings().alerts)
            counts = store.escalations.deliveries.counts()
    finally:
        for channel in channels:
            channel.close()
    if as_json:
        print_json(
            {
                "queued": report.queued,
                "closed": report.closed,
                "outcomes": [o.__dict__ for o in report.outcomes],
                "deliveries": counts,
            }
        )
        return
    for o in report.outcomes:
        detail = f"  ({o.detail})" if o.detail else ""
        typer.echo(f"#{o.escalation_id} {o.kind} {o.message} -> {o.channel}: {o.status}{detail}")
    typer.echo(report.summary())
    if any(o.status in ("failed", "gave_up") for o in report.outcomes):
        typer.echo(
            "a failure is kept and escalated (alert_failed); `gtm alerts test` checks a channel", err=True
        )
