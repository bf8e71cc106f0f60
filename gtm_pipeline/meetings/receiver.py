"""``POST /webhooks/calcom`` and ``POST /webhooks/calendly``: bookings received like Resend's events.

Each request's raw body is read under a size cap and a deadline, its signature checked against the
bytes (:mod:`gtm_pipeline.meetings.signatures`), its JSON bounded and parsed, read into a
:class:`~gtm_pipeline.meetings.events.BookingEvent`, then stored and applied in one transaction
(:mod:`gtm_pipeline.meetings.processing`), all before the 2xx. Every refusal is a 4xx that says which
check failed and stores nothing: 401 for a signature (missing, wrong, stale), 400 for a body that is
not JSON, 422 for JSON that is not a booking event the pipeline reads, 503 while the scheduler's
secret is not configured. A 5xx is only the store's failure, and the scheduler's retry does it all.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from gtm_pipeline.config.meetings import CALENDLY_TOLERANCE_S
from gtm_pipeline.meetings.events import (
    CALCOM_PING,
    BookingEvent,
    BookingEventError,
    read_calcom,
    read_calendly,
)
from gtm_pipeline.meetings.processing import record_in
from gtm_pipeline.meetings.signatures import (
    CALCOM_HEADER,
    CALENDLY_HEADER,
    SignatureError,
    verify_calcom,
    verify_calendly,
)
from gtm_pipeline.outreach.bounded_body import BodyRefusedError, read_bounded
from gtm_pipeline.outreach.webhook_events import MAX_DEPTH, nesting_depth, plain_json_text
from gtm_pipeline.outreach.write_lock import serialized_write
from gtm_pipeline.store import Store

MAX_BODY_BYTES = 256 * 1024  # a booking is a few KB (attendees, answers to the booking form)
RECEIVE_TIMEOUT_SECONDS = 10.0


def _refuse(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)


def _json(body: bytes) -> dict[str, Any] | JSONResponse:
    """The body as a JSON object, or the 400 that refuses it (never a parser's recursion or a NUL)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return _refuse(400, "body is not UTF-8")
    if nesting_depth(text, MAX_DEPTH) > MAX_DEPTH:
        return _refuse(400, f"JSON nested deeper than {MAX_DEPTH}")
    try:
        event = json.loads(text)
    except ValueError as exc:
        return _refuse(400, f"body is not JSON: {str(exc)[:80]}")
    if not isinstance(event, dict):
        return _refuse(400, "body is not a JSON object")
    if not plain_json_text(text, event):
        return _refuse(400, "JSON strings hold NUL or unpaired surrogates")
    return event


def create_booking_receiver(
    store: Store,
    *,
    calcom_secret: str | None,
    calendly_signing_key: str | None,
    calendly_tolerance_s: int = CALENDLY_TOLERANCE_S,
    now: Callable[[], dt.datetime] | None = None,
    receive_timeout: float = RECEIVE_TIMEOUT_SECONDS,
) -> APIRouter:
    """The two schedulers' webhook routes, bound to one store; ``now`` is the injected clock (the
    store's by default) that Calendly's signed timestamp is held against."""
    router = APIRouter()
    clock = now or store.now

    async def receive(
        request: Request,
        check: Callable[[bytes, Request], None],
        read: Callable[[dict[str, Any], bytes], BookingEvent | None],
    ) -> JSONResponse:
        try:
            body = await read_bounded(request, limit=MAX_BODY_BYTES, timeout=receive_timeout)
        except BodyRefusedError as refused:
            return _refuse(refused.status, refused.reason)
        try:
            check(body, request)
        except SignatureError as exc:
            return _refuse(401, str(exc))
        event = _json(body)
        if isinstance(event, JSONResponse):
            return event
        try:
            booking = read(event, body)
        except BookingEventError as exc:
            return _refuse(422, str(exc))
        if booking is None:
            return JSONResponse({"stored": False, "ping": True})
        # A failure from here on is ours (the store): a 500, and the scheduler retries.
        work = partial(_record, store, booking, event, clock())
        result = await run_in_threadpool(serialized_write, store, work)
        return JSONResponse(result.as_json())

    def calcom_check(body: bytes, request: Request) -> None:
        assert calcom_secret is not None
        verify_calcom(body, request.headers.get(CALCOM_HEADER), calcom_secret)

    def calcom_read(event: dict[str, Any], body: bytes) -> BookingEvent | None:
        return None if event.get("triggerEvent") == CALCOM_PING else read_calcom(event, body)

    def calendly_check(body: bytes, request: Request) -> None:
        assert calendly_signing_key is not None
        verify_calendly(
            body,
            request.headers.get(CALENDLY_HEADER),
            calendly_signing_key,
            now=clock(),
            tolerance_s=calendly_tolerance_s,
        )

    async def calcom_webhook(request: Request) -> JSONResponse:
        if calcom_secret is None:
            return _refuse(503, "GTM_CALCOM_WEBHOOK_SECRET is not configured")
        return await receive(request, calcom_check, calcom_read)

    async def calendly_webhook(request: Request) -> JSONResponse:
        if calendly_signing_key is None:
            return _refuse(503, "GTM_CALENDLY_WEBHOOK_SIGNING_KEY is not configured")
        return await receive(request, calendly_check, lambda event, _body: read_calendly(event))

    # Plain Starlette routes, as the Resend receiver's: the handler reads the raw body and answers itself.
    router.add_route("/webhooks/calcom", calcom_webhook, methods=["POST"], include_in_schema=False)
    router.add_route("/webhooks/calendly", calendly_webhook, methods=["POST"], include_in_schema=False)
    return router


def _record(store: Store, booking: BookingEvent, event: dict[str, Any], at: dt.datetime, c: Any) -> Any:
    return record_in(store, c, booking, event, at=at)
