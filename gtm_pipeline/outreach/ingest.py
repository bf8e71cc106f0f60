"""What the webhook receiver does before it answers: store the event once, apply compliance now.

``ingest`` stores a verified provider event once (keyed by ``svix-id``) and applies what compliance
decides at once - complaint, hard bounce, provider suppression, and a reply that says stop - to the
suppression list, in the transaction that stores the event. Since the suppression list is the last
gate of every send, nothing can go out to that address from the moment the receiver answers 2xx,
whatever the state of the rest of the pipeline; and since the two commit together, no answer can
say "stored" while the suppression is missing. Turning the stored event into a transition happens
later, in :mod:`gtm_pipeline.outreach.processing`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parseaddr
from functools import partial
from typing import Any

import sqlalchemy as sa

from gtm_pipeline.domain.ids import InvalidIdentityError, email_hash
from gtm_pipeline.outreach.classify import deterministic
from gtm_pipeline.outreach.mailparse import ParsedMail, parse_mail
from gtm_pipeline.outreach.webhook_events import (
    BouncedEvent,
    EmailData,
    OutboundEvent,
    ReceivedData,
    ReceivedEvent,
    WebhookEvent,
    read_event,
)
from gtm_pipeline.outreach.write_lock import serialized_write
from gtm_pipeline.store import Store
from gtm_pipeline.store.ledger import OutreachLedger, Touch

Fetch = Callable[[str], dict[str, Any]]


def rfc822_from_received(email: dict[str, Any]) -> str:
    """A received email from Resend's receiving API as RFC 822 text, for the one parser."""
    headers = {str(k).lower(): str(v) for k, v in (email.get("headers") or {}).items()}
    headers.setdefault("from", str(email.get("from", "")))
    headers.setdefault("to", ", ".join(email.get("to") or []))
    headers.setdefault("subject", str(email.get("subject", "")))
    if email.get("message_id"):
        headers.setdefault("message-id", str(email["message_id"]))
    lines = [f"{name.title()}: {' '.join(value.splitlines())}" for name, value in headers.items()]
    lines.append("Content-Type: text/plain; charset=utf-8")
    body = email.get("text") or ""
    return "\n".join(lines) + "\n\n" + str(body)


def _touch_from_address(
    ledger: OutreachLedger, addresses: list[str], c: sa.Connection | None
) -> Touch | None:
    for address in addresses:
        local = address.lower().split("@", 1)[0]
        if "+" in local:
            found = ledger.touch(local.split("+", 1)[1], c)
            if found is not None:
                return found
    return None


def correlate(ledger: OutreachLedger, event: WebhookEvent, c: sa.Connection | None = None) -> Touch | None:
    """The touch an event is about: our tag, the provider's email id, or the reply-to plus-address;
    read in the transaction ``c`` when given (the one that stores the event)."""
    if isinstance(event, ReceivedEvent):
        return _touch_from_address(ledger, event.data.to, c)
    if isinstance(event, OutboundEvent | BouncedEvent):
        touch_id = event.data.tag("touch_id")
        found = ledger.touch(touch_id, c) if touch_id else None
        if found is None and event.data.email_id:
            found = ledger.touch_by_provider_id(event.data.email_id, c)
        return found
    return None


@dataclass(frozen=True)
class Ingested:
    """What the receiver answers: the inbox row, whether it is new, and the suppression applied."""

    event_id: int
    new: bool
    prospect_id: str | None
    suppressed: str | None = None


@dataclass(frozen=True)
class Compliance:
    """What an event obliges at once: who goes on the suppression list, and why."""

    reason: str | None = None
    identities: tuple[str, ...] = ()


def suppress_identities(store: Store, reason: str, *identities: str | None) -> None:
    """Put each identity (an email hash or a prospect id) on the permanent suppression list."""
    with store.writing() as c:
        suppress_identities_in(store, c, reason, *identities)


def suppress_identities_in(store: Store, c: sa.Connection, reason: str, *identities: str | None) -> None:
    """:func:`suppress_identities` inside the caller's transaction (with the event that obliges it)."""
    for identity in dict.fromkeys(i for i in identities if i):
        store.privacy.suppress_in(
            c, identity, kind="prospect" if identity.startswith("p_") else "email", reason=reason
        )


def address_hashes(addresses: list[str]) -> list[str]:
    """The hashes of the addresses an event names (``Name <a@b>`` or bare); what is no address is skipped."""
    hashes = []
    for value in addresses:
        try:
            hashes.append(email_hash(parseaddr(value)[1]))
        except (InvalidIdentityError, UnicodeError):  # not an address, or not text a hash can take
            continue
    return hashes


def _outbound_compliance(event: OutboundEvent | BouncedEvent, touch: Touch | None) -> Compliance:
    """Complaint, hard bounce, provider suppression: the touch's recipient and prospect, and every
    address the event names - so an event for an email the ledger does not know (sent before a
    restore, by hand, by another tool) still suppresses the person it is about."""
    if isinstance(event, BouncedEvent):
        reason = "hard_bounce" if event.data.permanent else None
    else:
        reason = {"email.complained": "complaint", "email.suppressed": "provider_suppressed"}.get(event.type)
    if reason is None:
        return Compliance()
    named = [touch.to_hash] if touch else []
    # A bounced address is wrong, not the person: the prospect may still be reached at another one.
    if touch is not None and reason != "hard_bounce":
        named.append(touch.prospect_id)
    return Compliance(reason, tuple(named + address_hashes(event.data.to)))


def _reply_compliance(store: Store, mail: ParsedMail, touch: Touch | None) -> Compliance:
    """A reply that says stop (or complains) suppresses its sender and the touch's recipient; a
    bounce notice that arrives as a reply suppresses the bounced recipient."""
    decided = deterministic(mail, (mail.date or store.now()).date())
    if decided is None:
        return Compliance()
    if decided.category in ("unsubscribe", "complaint"):
        sender = address_hashes([mail.from_address])
        named = sender + ([touch.to_hash, touch.prospect_id] if touch else [])
        return Compliance("reply_" + decided.category, tuple(named))
    if decided.category == "bounce" and decided.hard_bounce:
        return Compliance("hard_bounce", (touch.to_hash,) if touch else ())
    return Compliance()


def _fetch_raw(fetch: Fetch, email_id: str) -> str | None:
    try:
        return rfc822_from_received(fetch(email_id))
    except Exception:  # the provider is down or answers oddly: the body is fetched again when processed
        return None


def fetches(typed: WebhookEvent, fetch: Fetch | None) -> bool:
    """Whether preparing this event may call the provider (a reply's body): blocking work."""
    return isinstance(typed, ReceivedEvent) and fetch is not None and bool(typed.data.email_id)


def prepare(
    store: Store,
    event_key: str,
    event: dict[str, Any],
    fetch: Fetch | None,
    *,
    typed: WebhookEvent | None = None,
) -> Callable[[sa.Connection], Ingested]:
    """What storing a verified event takes, as work for one write transaction.

    Only what is slow and not a write happens here: fetching a new reply's body from the provider
    (:func:`fetches` says when). ``typed`` is the event already read by the caller. Raises
    ``pydantic.ValidationError`` for an event of the wrong shape, before anything is written."""
    typed = typed if typed is not None else read_event(event)
    mail: ParsedMail | None = None
    raw: str | None = None
    if fetches(typed, fetch) and isinstance(typed, ReceivedEvent) and fetch is not None:
        if not store.inbox.has_event(event_key):  # a repeat: its body and effects were stored with it
            raw = _fetch_raw(fetch, str(typed.data.email_id))
        mail = parse_mail(raw) if raw is not None else None
    return partial(_store_event, store, event_key=event_key, event=event, typed=typed, mail=mail, raw=raw)


def ingest(
    store: Store,
    event_key: str,
    event: dict[str, Any],
    fetch: Fetch | None,
    *,
    typed: WebhookEvent | None = None,
) -> Ingested:
    """Store one verified event once and apply the compliance it carries, in one transaction.

    The reply's body, if any, is fetched first (:func:`prepare`). Then one write transaction
    (serialized, see :mod:`gtm_pipeline.outreach.write_lock`) correlates the event with its touch,
    stores the inbox row and applies its suppressions: they commit together or not at all, and the
    correlation reads the same state the insert writes into. A fault anywhere leaves nothing, the
    receiver answers 5xx, and the provider's retry of the same key does all of it. A repeat of a
    stored key re-applies what the event's own fields oblige (a complaint, a hard bounce;
    suppression is idempotent), so an event stored before the effects were atomic is repaired by its
    next delivery; a repeated reply is not fetched again (processing classifies it).
    """
    return serialized_write(store, prepare(store, event_key, event, fetch, typed=typed))


def _store_event(
    store: Store,
    c: sa.Connection,
    *,
    event_key: str,
    event: dict[str, Any],
    typed: WebhookEvent,
    mail: ParsedMail | None,
    raw: str | None,
) -> Ingested:
    """Correlate, store and suppress inside the caller's write transaction ``c``."""
    ledger = store.ledger
    touch = correlate(ledger, typed, c)
    effect = Compliance()
    if isinstance(typed, OutboundEvent | BouncedEvent):
        effect = _outbound_compliance(typed, touch)
    elif mail is not None:
        # No plus-address on the reply (some clients drop Reply-To): thread by In-Reply-To / References.
        touch = touch or next(
            (found for mid in mail.thread_ids if (found := ledger.touch_by_message_id(mid, c)) is not None),
            None,
        )
        effect = _reply_compliance(store, mail, touch)
    email_id = typed.data.email_id if isinstance(typed.data, EmailData | ReceivedData) else None
    event_id, new = store.inbox.add_event_in(
        c,
        event_key=event_key,
        event_type=typed.type,
        payload=event,
        prospect_id=touch.prospect_id if touch else None,
        touch_id=touch.touch_id if touch else None,
        provider_email_id=email_id,
        raw_message=raw,
    )
    if effect.reason is not None:
        suppress_identities_in(store, c, effect.reason, *effect.identities)
    suppressed = effect.reason if effect.identities else None
    return Ingested(event_id, new, touch.prospect_id if touch else None, suppressed)


def one_click_unsubscribe(store: Store, touch: Touch, *, via: str) -> Ingested:
    """RFC 8058 one-click (or the confirmation page): suppress now and journal through the inbox, in
    one transaction, so the person is never unsubscribed without the record that says so (nor the
    reverse); a second click finds both."""
    event = {"type": "unsubscribe.one_click", "data": {"touch_id": touch.touch_id, "via": via}}

    def write(c: sa.Connection) -> Ingested:
        suppress_identities_in(store, c, "unsubscribe", touch.to_hash, touch.prospect_id)
        event_id, new = store.inbox.add_event_in(
            c,
            event_key=f"unsubscribe:{touch.touch_id}",
            event_type="unsubscribe.one_click",
            payload=event,
            prospect_id=touch.prospect_id,
            touch_id=touch.touch_id,
            provider_email_id=None,
        )
        return Ingested(event_id, new, touch.prospect_id, "unsubscribe")

    return serialized_write(store, write)
