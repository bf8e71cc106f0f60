"""What the webhook receiver does before it answers: store the event once, apply compliance now.

``ingest`` stores a verified provider event once (keyed by ``svix-id``) and applies what compliance
decides at once - complaint, hard bounce, provider suppression, and a reply that says stop - to the
suppression list. Since the suppression list is the last gate of every send, nothing can go out to
that address from that moment, whatever the state of the rest of the pipeline. Turning the stored
event into a transition happens later, in :mod:`gtm_pipeline.outreach.processing`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gtm_pipeline.domain.ids import email_hash
from gtm_pipeline.outreach.classify import deterministic
from gtm_pipeline.outreach.mailparse import parse_mail
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


def _touch_from_address(ledger: OutreachLedger, addresses: list[str]) -> Touch | None:
    for address in addresses:
        local = address.split("@", 1)[0]
        if "+" in local:
            found = ledger.touch(local.split("+", 1)[1])
            if found is not None:
                return found
    return None


def correlate(ledger: OutreachLedger, event: dict[str, Any]) -> Touch | None:
    """The touch an event is about: tags, the provider's email id, or the reply-to plus-address."""
    data = event.get("data") or {}
    tags = data.get("tags") or {}
    if isinstance(tags, list):
        tags = {t.get("name"): t.get("value") for t in tags if isinstance(t, dict)}
    if isinstance(tags, dict) and tags.get("touch_id"):
        found = ledger.touch(str(tags["touch_id"]))
        if found is not None:
            return found
    if event.get("type") != "email.received" and data.get("email_id"):
        found = ledger.touch_by_provider_id(str(data["email_id"]))
        if found is not None:
            return found
    if event.get("type") == "email.received":
        return _touch_from_address(ledger, [str(a).lower() for a in data.get("to") or []])
    return None


@dataclass(frozen=True)
class Ingested:
    event_id: int
    new: bool
    prospect_id: str | None
    suppressed: str | None = None


def suppress_identities(store: Store, reason: str, *identities: str | None) -> None:
    """Put each identity (an email hash or a prospect id) on the permanent suppression list."""
    for identity in identities:
        if identity:
            store.privacy.suppress(
                identity, kind="prospect" if identity.startswith("p_") else "email", reason=reason
            )


def ingest(store: Store, event_key: str, event: dict[str, Any], fetch: Fetch | None) -> Ingested:
    """Store one verified event once and apply the compliance it carries, immediately."""
    ledger = store.ledger
    touch = correlate(ledger, event)
    data = event.get("data") or {}
    kind = str(event.get("type"))
    event_id, new = ledger.add_event(
        event_key=event_key,
        event_type=kind,
        payload=event,
        prospect_id=touch.prospect_id if touch else None,
        touch_id=touch.touch_id if touch else None,
        provider_email_id=str(data.get("email_id")) if data.get("email_id") else None,
    )
    if not new:
        return Ingested(event_id, False, touch.prospect_id if touch else None)
    reason: str | None = None
    if kind == "email.complained":
        reason = "complaint"
    elif kind == "email.bounced" and str((data.get("bounce") or {}).get("type", "")).lower() == "permanent":
        reason = "hard_bounce"
    elif kind == "email.suppressed":
        reason = "provider_suppressed"
    elif kind == "email.received" and fetch is not None and data.get("email_id"):
        try:
            raw = rfc822_from_received(fetch(str(data["email_id"])))
        except Exception:  # the body is fetched again when the event is processed
            raw = None
        if raw is not None:
            mail = parse_mail(raw)
            # No plus-address on the reply (some clients drop Reply-To): thread by In-Reply-To / References.
            touch = touch or next(
                (found for mid in mail.thread_ids if (found := ledger.touch_by_message_id(mid)) is not None),
                None,
            )
            ledger.set_raw_message(
                event_id, raw, touch.prospect_id if touch else None, touch.touch_id if touch else None
            )
            decided = deterministic(mail, (mail.date or store.now()).date())
            if decided is not None and decided.category in ("unsubscribe", "complaint"):
                reason = "reply_" + decided.category
                suppress_identities(
                    store, reason, email_hash(mail.from_address) if "@" in mail.from_address else None
                )
            elif decided is not None and decided.category == "bounce" and decided.hard_bounce:
                reason = "hard_bounce"
    if reason is not None and touch is not None:
        suppress_identities(
            store, reason, touch.to_hash, touch.prospect_id if reason != "hard_bounce" else None
        )
    return Ingested(event_id, True, touch.prospect_id if touch else None, reason)


def one_click_unsubscribe(store: Store, touch: Touch, *, via: str) -> Ingested:
    """RFC 8058 one-click (or the confirmation page): suppress now, journal through the inbox."""
    suppress_identities(store, "unsubscribe", touch.to_hash, touch.prospect_id)
    event = {"type": "unsubscribe.one_click", "data": {"touch_id": touch.touch_id, "via": via}}
    event_id, new = store.ledger.add_event(
        event_key=f"unsubscribe:{touch.touch_id}",
        event_type="unsubscribe.one_click",
        payload=event,
        prospect_id=touch.prospect_id,
        touch_id=touch.touch_id,
        provider_email_id=None,
    )
    return Ingested(event_id, new, touch.prospect_id, "unsubscribe")
