"""Twins of Cal.com's and Calendly's webhook senders: realistic, signed bookings POSTed over HTTP.

Each builds the payload its scheduler sends for a booking, a cancellation, a reschedule, a meeting
that ended and a no-show (the fields the receiver reads, in the scheduler's own names, and a few it
does not), signs it the scheduler's way and POSTs it to a receiver. For tests and the rehearsal it
can also misbehave as the open internet does: a wrong signature, no signature header, a timestamp
outside Calendly's tolerance, the same delivery twice (a retry or a replay), a body that is not JSON.

Times come from the injected clock: Calendly's signed ``t=`` is held against the receiver's clock,
and a rehearsal's simulated day must sign with that day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from gtm_pipeline.domain.clock import Clock, SystemClock
from gtm_pipeline.meetings.signatures import (
    CALCOM_HEADER,
    CALENDLY_HEADER,
    calcom_signature,
    calendly_signature,
)

Kind = Literal["booked", "cancelled", "rescheduled", "held", "no_show"]
Fault = Literal["bad_signature", "no_signature", "stale"] | None
CALCOM_TRIGGERS: dict[str, str] = {
    "booked": "BOOKING_CREATED",
    "cancelled": "BOOKING_CANCELLED",
    "rescheduled": "BOOKING_RESCHEDULED",
    "held": "MEETING_ENDED",
    "no_show": "BOOKING_NO_SHOW_UPDATED",
}
CALENDLY_EVENTS: dict[str, str] = {
    "booked": "invitee.created",
    "cancelled": "invitee.canceled",
    "rescheduled": "invitee.canceled",  # with "rescheduled": true, then a new invitee.created
    "no_show": "invitee_no_show.created",
}


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def _stable_uuid(*parts: str) -> str:
    return str(uuid.UUID(hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]))


@dataclass
class Booking:
    """One meeting on the twin's calendar: who booked it and when it is."""

    email: str
    name: str
    starts_at: dt.datetime
    minutes: int = 30
    ref: str = ""

    def __post_init__(self) -> None:
        self.ref = self.ref or _stable_uuid(self.email, self.starts_at.isoformat())

    @property
    def ends_at(self) -> dt.datetime:
        return self.starts_at + dt.timedelta(minutes=self.minutes)


def calcom_payload(kind: Kind, booking: Booking, *, at: dt.datetime, no_show: bool = True) -> dict[str, Any]:
    """Cal.com's webhook body for ``kind`` (``triggerEvent``, ``createdAt``, ``payload``)."""
    attendee: dict[str, Any] = {"email": booking.email, "name": booking.name, "timeZone": "Europe/Berlin"}
    inner: dict[str, Any]
    if kind == "no_show":
        attendee["noShow"] = no_show
        inner = {"message": "No-show updated", "bookingUid": booking.ref, "attendees": [attendee]}
    else:
        inner = {
            "type": "intro-call",
            "title": "Intro call",
            "startTime": _iso(booking.starts_at),
            "endTime": _iso(booking.ends_at),
            "organizer": {"email": "founder@sender.example", "name": "Founder", "timeZone": "Europe/Berlin"},
            "attendees": [attendee],
            "uid": booking.ref,
            "status": "CANCELLED" if kind == "cancelled" else "ACCEPTED",
            "responses": {"notes": {"label": "Notes", "value": "Looking forward to it"}},
        }
    return {"triggerEvent": CALCOM_TRIGGERS[kind], "createdAt": _iso(at), "payload": inner}


def calendly_payload(kind: Kind, booking: Booking, *, at: dt.datetime) -> dict[str, Any]:
    """Calendly's webhook body for ``kind``: the invitee resource under ``payload``."""
    if kind not in CALENDLY_EVENTS:
        raise ValueError(f"Calendly sends no webhook for {kind!r} (a meeting's end is not an event there)")
    event_uri = f"https://api.calendly.com/scheduled_events/{booking.ref}"
    invitee: dict[str, Any] = {
        "uri": f"{event_uri}/invitees/{_stable_uuid(booking.ref, booking.email)}",
        "email": booking.email,
        "name": booking.name,
        "status": "canceled" if kind in ("cancelled", "rescheduled") else "active",
        "rescheduled": kind == "rescheduled",
        "timezone": "Europe/Berlin",
        "created_at": _iso(at),
        "scheduled_event": {
            "uri": event_uri,
            "name": "Intro call",
            "start_time": _iso(booking.starts_at),
            "end_time": _iso(booking.ends_at),
        },
        "no_show": None,
    }
    if kind == "no_show":
        invitee["no_show"] = {
            "uri": f"https://api.calendly.com/invitee_no_shows/{_stable_uuid(booking.ref, 'no-show')}",
            "created_at": _iso(at),
        }
    if kind in ("cancelled", "rescheduled"):
        invitee["cancellation"] = {"canceled_by": booking.name, "reason": None, "canceler_type": "invitee"}
    return {
        "event": CALENDLY_EVENTS[kind],
        "created_at": _iso(at),
        "created_by": "https://api.calendly.com/users/TWIN",
        "payload": invitee,
    }


@dataclass
class BookingSender:
    """POSTs signed scheduler webhooks to a receiver at ``base_url`` (its ``/webhooks/...`` routes)."""

    base_url: str
    calcom_secret: str
    calendly_signing_key: str
    clock: Clock = field(default_factory=SystemClock)
    stale_seconds: int = 600  # how far back a "stale" Calendly delivery is signed
    sent: list[tuple[str, str, int]] = field(default_factory=list)  # (provider, type, status)
    _last: tuple[str, str, bytes, dict[str, str]] | None = None

    def calcom(
        self,
        kind: Kind,
        booking: Booking,
        *,
        fault: Fault = None,
        no_show: bool = True,
        raw: bytes | None = None,
    ) -> httpx.Response:
        """One Cal.com delivery (``raw``: send these bytes, signed, instead of the payload)."""
        body = (
            raw
            if raw is not None
            else json.dumps(calcom_payload(kind, booking, at=self.clock.now(), no_show=no_show)).encode()
        )
        headers = {"content-type": "application/json"}
        if fault != "no_signature":
            secret = self.calcom_secret if fault != "bad_signature" else self.calcom_secret + "-wrong"
            headers[CALCOM_HEADER] = calcom_signature(body, secret)
        return self._post("calcom", CALCOM_TRIGGERS[kind], body, headers)

    def calendly(
        self, kind: Kind, booking: Booking, *, fault: Fault = None, raw: bytes | None = None
    ) -> httpx.Response:
        """One Calendly delivery, signed at the clock's now (``stale``: ``stale_seconds`` earlier)."""
        now = self.clock.now()
        body = raw if raw is not None else json.dumps(calendly_payload(kind, booking, at=now)).encode()
        headers = {"content-type": "application/json"}
        if fault != "no_signature":
            signed_at = int(now.timestamp()) - (self.stale_seconds if fault == "stale" else 0)
            key = (
                self.calendly_signing_key
                if fault != "bad_signature"
                else self.calendly_signing_key + "-wrong"
            )
            headers[CALENDLY_HEADER] = calendly_signature(body, key, signed_at)
        return self._post("calendly", CALENDLY_EVENTS.get(kind, kind), body, headers)

    def replay_last(self) -> httpx.Response:
        """The last request again, byte for byte and with its old signature: what an attacker who
        captured it (or a proxy retrying it) would send."""
        assert self._last is not None, "nothing sent yet"
        return self._post(*self._last)

    def _post(self, provider: str, kind: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        self._last = (provider, kind, body, headers)
        response = httpx.post(
            f"{self.base_url}/webhooks/{provider}", content=body, headers=headers, timeout=10
        )
        self.sent.append((provider, kind, response.status_code))
        return response
