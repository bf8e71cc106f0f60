"""A verified scheduler webhook read into one :class:`BookingEvent` (pure), or refused.

Both schedulers say the same few things in their own words: a meeting was booked, cancelled,
moved, its time passed, or the invitee did not come. Each is read into one ``kind``, with the
invitee's address (hashed at once for matching; the address itself stays only in the stored
payload, which an erasure removes), the booking's own reference and its start. What is not one of
them (an unknown event type, a payload without an invitee's address) is a :class:`BookingEventError`:
a 4xx, nothing stored, so a wrong subscription shows up at the scheduler instead of as silence.

The inbox key is the provider's own id where it has one (Calendly's invitee or no-show URI, which a
retry repeats) and a hash of the body where it has none (Cal.com), so a delivery repeated is stored
once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from gtm_pipeline.domain.ids import InvalidIdentityError, email_hash
from gtm_pipeline.domain.states import Event

Kind = Literal["booked", "cancelled", "rescheduled", "held", "no_show", "no_show_cleared"]
MAX_KEY = 200  # inbox.event_key

# The transition each kind asks for; ``no_show_cleared`` (a mark undone) is recorded, never applied.
TRANSITIONS: dict[str, Event] = {
    "booked": Event.MEETING_BOOKED,
    "cancelled": Event.MEETING_CANCELLED,
    "rescheduled": Event.MEETING_RESCHEDULED,
    "held": Event.MEETING_HELD,
    "no_show": Event.MEETING_NO_SHOW,
}
CALCOM_KINDS: dict[str, Kind] = {
    "BOOKING_CREATED": "booked",
    "BOOKING_CANCELLED": "cancelled",
    "BOOKING_RESCHEDULED": "rescheduled",
    "MEETING_ENDED": "held",
    "BOOKING_NO_SHOW_UPDATED": "no_show",  # or no_show_cleared: the attendee's flag decides
}
CALENDLY_KINDS: dict[str, Kind] = {
    "invitee.created": "booked",
    "invitee.canceled": "cancelled",  # or rescheduled: Calendly's ``rescheduled`` flag decides
    "invitee_no_show.created": "no_show",
    "invitee_no_show.deleted": "no_show_cleared",
}
CALCOM_PING = "PING"  # Cal.com's "test" button: answered, not stored


class BookingEventError(ValueError):
    """A verified body that is not a booking event the pipeline reads: refused (422), nothing stored."""


@dataclass(frozen=True)
class BookingEvent:
    """One scheduler event, as the pipeline reads it (the payload itself is stored as it came)."""

    provider: str  # calcom | calendly
    provider_type: str  # the provider's own name for it (BOOKING_CREATED, invitee.canceled)
    kind: Kind
    event_key: str
    invitee_hash: str
    booking_ref: str | None  # Cal.com's booking uid, Calendly's scheduled event URI
    starts_at: str | None

    @property
    def inbox_type(self) -> str:
        """The inbox row's ``event_type``: one namespace for every scheduler."""
        return f"meeting.{self.kind}"

    def evidence(self) -> dict[str, Any]:
        """What the journal keeps of it: the provider's words and references, the address only hashed."""
        return {
            "provider": self.provider,
            "provider_event": self.provider_type,
            "booking": self.booking_ref,
            "starts_at": self.starts_at,
            "invitee_hash": self.invitee_hash,
        }


def _text(value: object, limit: int = 500) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _hash(address: object) -> str:
    if not isinstance(address, str) or "@" not in address:
        raise BookingEventError("the event names no invitee's email address")
    try:
        return email_hash(address)
    except (InvalidIdentityError, UnicodeError):
        raise BookingEventError("the invitee's email address is not an address") from None


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BookingEventError(f"{where} is not an object")
    return value


def _object_or_empty(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _typed(
    event: object, field: str, kinds: dict[str, Kind], provider: str
) -> tuple[str, Kind, dict[str, Any]]:
    """The provider's event type, its kind, and the ``payload`` object; refused when the type is not
    one the pipeline reads (a subscription to more events than it handles shows up at the scheduler)."""
    top = _object(event, "the body")
    name = top.get(field)
    kind = kinds.get(name) if isinstance(name, str) else None
    if kind is None or not isinstance(name, str):
        raise BookingEventError(f"{provider} event type {str(name)[:60]!r} is not one the pipeline reads")
    return name, kind, _object(top.get("payload"), "payload")


def read_calcom(event: object, body: bytes) -> BookingEvent:
    """Cal.com's ``{"triggerEvent": ..., "payload": {...}}``; the first attendee is the invitee."""
    trigger, kind, payload = _typed(event, "triggerEvent", CALCOM_KINDS, "Cal.com")
    attendees = payload.get("attendees")
    if not isinstance(attendees, list) or not attendees or not isinstance(attendees[0], dict):
        raise BookingEventError("payload.attendees names nobody")
    invitee = attendees[0]
    if kind == "no_show" and invitee.get("noShow") is False:
        kind = "no_show_cleared"
    digest = hashlib.sha256(body).hexdigest()[:40]
    return BookingEvent(
        provider="calcom",
        provider_type=trigger,
        kind=kind,
        event_key=f"calcom:{digest}",
        invitee_hash=_hash(invitee.get("email")),
        booking_ref=_text(payload.get("uid") or payload.get("bookingUid"), 120),
        starts_at=_text(payload.get("startTime"), 40),
    )


def read_calendly(event: object) -> BookingEvent:
    """Calendly's ``{"event": ..., "payload": <the invitee>}``; keyed by the invitee's URI."""
    name, kind, payload = _typed(event, "event", CALENDLY_KINDS, "Calendly")
    if kind == "cancelled" and payload.get("rescheduled") is True:
        kind = "rescheduled"  # Calendly's reschedule: this cancellation, then a new invitee.created
    scheduled = _object_or_empty(payload.get("scheduled_event"))
    uri = _text(payload.get("uri"), 150)
    if uri is None:
        raise BookingEventError("payload.uri (the invitee) is missing")
    # A no-show is its own resource: its URI, when given, keys it apart from the invitee's creation.
    no_show = _object_or_empty(payload.get("no_show"))
    ref = _text(no_show.get("uri"), 150) if kind in ("no_show", "no_show_cleared") else None
    key = f"calendly:{name}:{ref or uri}"
    if len(key) > MAX_KEY:
        key = f"calendly:{name}:" + hashlib.sha256((ref or uri).encode()).hexdigest()[:40]
    return BookingEvent(
        provider="calendly",
        provider_type=name,
        kind=kind,
        event_key=key,
        invitee_hash=_hash(payload.get("email")),
        booking_ref=_text(scheduled.get("uri"), 150),
        starts_at=_text(scheduled.get("start_time"), 40),
    )
