"""The webhook receiver and the one-click unsubscribe endpoint (FastAPI).

``POST /webhooks/resend``: the body is read raw (the signature covers the exact bytes), streamed
under a size cap and a deadline, its nesting bounded, verified with the Resend SDK's own Svix
verification (which also refuses timestamps more than five minutes old or ahead), read into a typed
event (:mod:`gtm_pipeline.outreach.webhook_events`), then stored once by ``svix-id`` with its
compliance effects applied in the same transaction - all before the 2xx. Anything malformed is
answered 4xx and stores nothing; a 5xx means only our own fault (the store failed), and Resend's
retry of the same ``svix-id`` then does the whole of it. The write is handed to the store's one
writer (:mod:`gtm_pipeline.outreach.batch_writer`), which commits the events waiting at that moment
together (on SQLite, on the event loop when the write lock is free at once), each correlated with its
touch inside that transaction. The endpoint is a bare ASGI app (:class:`WebhookEndpoint`): it reads
the headers it needs and the body from the ASGI messages and answers itself, and ``gtm serve`` hands
it webhooks ahead of every middleware (``gtm_pipeline.app.ServeApp``).

``/unsubscribe/{token}``: RFC 8058. ``POST`` (the mail client's one-click) unsubscribes at
once; ``GET`` only shows a confirmation button, because link scanners fetch URLs. Tokens
are a touch id plus an HMAC: no address or name in any URL.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import resend
from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import ValidationError
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gtm_pipeline.outreach.batch_writer import BatchWriter
from gtm_pipeline.outreach.bounded_body import BodyRefusedError
from gtm_pipeline.outreach.ingest import Fetch, fetches, one_click_unsubscribe, prepare
from gtm_pipeline.outreach.settings import SendingSettings
from gtm_pipeline.outreach.webhook_events import (
    MAX_DEPTH,
    WebhookEvent,
    nesting_depth,
    plain_json_text,
    read_event,
)
from gtm_pipeline.store import Store
from gtm_pipeline.store.ledger import Touch

logger = logging.getLogger(__name__)
WEBHOOK_PATH = "/webhooks/resend"
MAX_BODY_BYTES = 256 * 1024
RECEIVE_TIMEOUT_SECONDS = 10.0  # Resend sends a few KB at once; only a stalling client needs longer
MAX_SVIX_ID = 128  # Svix ids are ~30 characters; the inbox key column holds 200 with its prefix
MAX_TOKEN = 128  # a touch id (26) + "." + 24 hex characters
_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>{body}</body></html>"
)


class WebhookEndpoint:
    """The webhook handler as a bare ASGI app: a Starlette route mounts it as it is, and the app
    ``gtm serve`` runs calls it directly, ahead of the console's routing and middleware.

    It reads the headers it needs from the scope and the body from ``receive`` itself (no
    :class:`Request`, no header object: at saturation each costs as much as a signature check) and
    sends its answer itself; anything but ``POST`` is a 405, as the route would answer."""

    def __init__(self, handler: Callable[[dict[bytes, bytes], Receive], Awaitable[Response]]) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            response: Response = PlainTextResponse("Method Not Allowed", 405, headers={"allow": "POST"})
        else:
            wanted: dict[bytes, bytes] = {}
            for name, value in scope["headers"]:
                if name in _WANTED:
                    wanted.setdefault(name, value)  # the first, as Starlette's headers read it
            response = await self.handler(wanted, receive)
        await response(scope, receive, send)


class _Stored(Response):
    """The 2xx of a stored event, written directly: ``JSONResponse`` builds a generic encoder call
    and its headers again for three known fields on every event."""

    def __init__(self, new: bool, event_id: int, suppressed: str | None) -> None:
        self.status_code = 200
        self.background = None
        self.body = b'{"stored":%s,"event_id":%d,"suppressed":%s}' % (
            b"true" if new else b"false",
            event_id,
            json.dumps(suppressed).encode(),
        )
        self.raw_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.body)).encode()),
        ]


_WANTED = frozenset((b"content-length", b"svix-id", b"svix-timestamp", b"svix-signature"))


async def receive_bounded(declared: bytes | None, receive: Receive, *, limit: int, timeout: float) -> bytes:
    """:func:`~gtm_pipeline.outreach.bounded_body.read_bounded` on the ASGI messages themselves:
    413 as soon as more than ``limit`` bytes are declared or received, 408 when the body has not all
    arrived ``timeout`` seconds after the headers, 400 for a malformed length or a client gone."""
    if declared is not None:
        # bytes.isdigit() is ASCII digits only
        if not declared.isdigit():
            raise BodyRefusedError(400, "malformed Content-Length")
        if int(declared) > limit:
            raise BodyRefusedError(413, "body too large")
    body = b""
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] != "http.request":  # http.disconnect
                    raise BodyRefusedError(400, "the client went away before the body arrived")
                body += message.get("body", b"")
                if len(body) > limit:
                    raise BodyRefusedError(413, "body too large")
                if not message.get("more_body", False):
                    return body
    except TimeoutError:
        raise BodyRefusedError(408, "body not received in time") from None


def webhook_endpoint(router: APIRouter) -> WebhookEndpoint | None:
    """The receiver's webhook endpoint among ``router``'s routes (what the app hands requests to)."""
    for route in router.routes:
        if isinstance(route, Route) and isinstance(route.endpoint, WebhookEndpoint):
            return route.endpoint
    return None


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body), status_code=status)


def _refuse(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)


def _fields(error: ValidationError) -> list[str]:
    """Where an event is wrong, never what it holds (its values are personal data)."""
    return [".".join(str(part) for part in e["loc"]) or "(body)" for e in error.errors()[:5]]


def verified_touch_id(settings: SendingSettings, token: str) -> str | None:
    """The touch id an unsubscribe token names, or None: compared in constant time, as bytes.

    A path can hold any character; ``hmac.compare_digest`` raises on a non-ASCII ``str``, so a
    token outside the ASCII alphabet the links are written in is refused before any comparison."""
    if len(token) > MAX_TOKEN or not token.isascii():
        return None
    touch_id, dot, _ = token.partition(".")
    if not dot or not touch_id:
        return None
    expected = settings.unsubscribe_token(touch_id)
    return touch_id if hmac.compare_digest(token.encode(), expected.encode()) else None


def create_receiver(
    store: Store,
    settings: SendingSettings,
    secret: str | None,
    fetch: Fetch | None,
    *,
    receive_timeout: float = RECEIVE_TIMEOUT_SECONDS,
) -> APIRouter:
    """The receiver's routes, bound to one store."""
    router = APIRouter()
    writer = BatchWriter(store)

    def verify(body: bytes, headers: dict[str, str]) -> tuple[dict[str, Any], WebhookEvent] | JSONResponse:
        """The signed event as JSON and as its typed model (read once), or the 4xx that refuses it."""
        if len(headers["id"]) > MAX_SVIX_ID:
            return _refuse(400, "svix-id too long")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return _refuse(400, "body is not UTF-8")
        if nesting_depth(text, MAX_DEPTH) > MAX_DEPTH:  # before any parser recurses into it
            return _refuse(400, f"JSON nested deeper than {MAX_DEPTH}")
        try:
            options: Any = {"payload": text, "headers": headers, "webhook_secret": secret}
            event: Any = resend.Webhooks.verify(options)
            if isinstance(event, str):  # older SDKs return the payload unparsed
                event = json.loads(event)
        except ValueError as exc:  # a bad signature or stale timestamp, or JSON that is not JSON
            return _refuse(400, f"rejected: {str(exc)[:120]}")
        if not plain_json_text(text, event):
            return _refuse(400, "JSON strings hold NUL or unpaired surrogates")
        try:
            typed = read_event(event)
        except ValidationError as exc:
            return JSONResponse({"error": "not a Resend event", "fields": _fields(exc)}, status_code=422)
        return dict(event), typed

    async def resend_webhook(wanted: dict[bytes, bytes], receive: Receive) -> Response:
        if secret is None:
            return _refuse(503, "RESEND_WEBHOOK_SECRET is not configured")
        try:
            body = await receive_bounded(
                wanted.get(b"content-length"), receive, limit=MAX_BODY_BYTES, timeout=receive_timeout
            )
        except BodyRefusedError as refused:
            return _refuse(refused.status, refused.reason)
        headers = {
            "id": wanted.get(b"svix-id", b"").decode("latin-1"),
            "timestamp": wanted.get(b"svix-timestamp", b"").decode("latin-1"),
            "signature": wanted.get(b"svix-signature", b"").decode("latin-1"),
        }
        verified = verify(body, headers)
        if isinstance(verified, JSONResponse):
            return verified
        event, typed = verified
        key = f"svix:{headers['id']}"
        try:
            if fetches(typed, fetch):  # a reply: its body is fetched from the provider (blocking) first
                work = await run_in_threadpool(prepare, store, key, event, fetch, typed=typed)
            else:
                work = prepare(store, key, event, None, typed=typed)
            result = await writer.write(work)
        except Exception as failure:  # ours (the store): nothing of it is stored; a 5xx makes Resend retry
            # The driver's own error (``orig``), never SQLAlchemy's text: that lists the parameters,
            # and an event's parameters hold addresses.
            cause = getattr(failure, "orig", None) or failure
            logger.error(
                "webhook %s not stored (%s: %s); the provider retries it", key, type(cause).__name__, cause
            )
            return _refuse(500, "not stored (our fault): retry")
        return _Stored(result.new, result.event_id, result.suppressed)

    # A plain ASGI endpoint: it takes the raw request and answers itself, so FastAPI's per-request
    # machinery (dependencies, response models) would only cost time on every event. ``gtm serve``
    # goes further and hands it the request before any middleware (``gtm_pipeline.app``).
    router.routes.append(
        Route(WEBHOOK_PATH, WebhookEndpoint(resend_webhook), methods=["POST"], include_in_schema=False)
    )

    def touch_for(token: str) -> Touch | None:
        touch_id = verified_touch_id(settings, token)
        return store.ledger.touch(touch_id) if touch_id else None

    @router.get("/unsubscribe/{token}", response_class=HTMLResponse)
    async def unsubscribe_page(token: str) -> HTMLResponse:
        if verified_touch_id(settings, token) is None:
            return _page("Unknown link", "<p>This link is not valid.</p>", 404)
        action = html.escape(f"/unsubscribe/{token}")
        return _page(
            "Unsubscribe",
            f"<p>Stop all email from {html.escape(settings.sender_company)}?</p>"
            f"<form method='post' action='{action}'><button type='submit'>Unsubscribe</button></form>",
        )

    @router.post("/unsubscribe/{token}", response_class=HTMLResponse)
    async def unsubscribe(token: str) -> HTMLResponse:
        touch = await run_in_threadpool(touch_for, token)
        if touch is None:
            return _page("Unknown link", "<p>This link is not valid.</p>", 404)
        await run_in_threadpool(one_click_unsubscribe, store, touch, via="one-click")
        return _page("Unsubscribed", "<p>You are unsubscribed. You will not hear from us again.</p>")

    return router
