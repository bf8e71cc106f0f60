"""``gtm prospect show``: one prospect's whole story in the terminal, as the console shows it.

The operator names the prospect as they know it: its id, its company's domain (any spelling), or
the person's email address. An address is looked up by its hash only (as the store keeps it) and
is never printed back; the story gives senders and recipients by hash, and shows a reply's own
text as written (which may include a signature's address) (console/timeline.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from gtm_pipeline.cli import app
from gtm_pipeline.cli.common import CommandError, open_store

if TYPE_CHECKING:
    from gtm_pipeline.store import Store

prospect_app = typer.Typer(no_args_is_help=True, help="One prospect: its story, oldest first.")
app.add_typer(prospect_app, name="prospect")


def resolve(store: Store, target: str) -> str:
    """The prospect id that ``target`` (an id, a domain or an email address) names.

    Raises :class:`CommandError` (exit 2) when nothing, or more than one prospect, matches."""
    from gtm_pipeline.domain.ids import InvalidIdentityError, is_prospect_id, normalize_domain, prospect_id
    from gtm_pipeline.domain.person_forms import parse_person

    target = target.strip()
    if is_prospect_id(target):
        if store.prospects.get(target) is None:
            raise CommandError(f"no prospect {target} (gtm status lists the prospects)")
        return target
    if "@" in target:
        try:
            digest = parse_person(target).subject_hash
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        found = sorted({pid for pid, _state in store.prospects.with_email_hash(digest)})
        if not found:
            found = sorted({c.prospect_id for c in store.contacts.with_email_hash(digest)})
        if not found:
            raise CommandError(f"no prospect has that address (looked up by its hash {digest})")
        if len(found) > 1:
            names = store.prospects.company_names(found)
            listed = ", ".join(f"{pid} ({names.get(pid, '?')})" for pid in found)
            raise CommandError(
                f"that address belongs to {len(found)} prospects: {listed}; show one by its id"
            )
        return found[0]
    try:
        pid = prospect_id(normalize_domain(target))
    except InvalidIdentityError as exc:
        raise CommandError(f"not a prospect id, a domain or an email address: {exc}") from None
    if store.prospects.get(pid) is None:
        raise CommandError(
            f"no prospect for the domain {normalize_domain(target)} (gtm status lists the prospects)"
        )
    return pid


@prospect_app.command("show")
def show(
    target: Annotated[
        str, typer.Argument(help="A prospect id (p_...), its company's domain, or the person's email.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="The story as JSON.")] = False,
    quoted: Annotated[bool, typer.Option("--quoted", help="Unfold the quoted history of replies.")] = False,
) -> None:
    """Show one prospect's story in order: emails sent, replies and their classification, drafts and
    their edits, the context pack, and every journal entry as "event → new state"."""
    from gtm_pipeline.console.timeline import story
    from gtm_pipeline.console.timeline_text import as_text, dumps

    with open_store() as store:
        told = story(store, resolve(store, target))
    if told is None:  # erased between the two reads: a tombstoned prospect stays, so only a race
        raise CommandError("the prospect is gone")
    if as_json:
        typer.echo(dumps(told))
        return
    typer.echo(as_text(told, quoted=quoted))
