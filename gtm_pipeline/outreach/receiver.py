"""The webhook receiver and the one-click unsubscribe endpoint (FastAPI).

``POST /webhooks/resend``: the body is read raw (the signature covers the exact bytes),
capped in size, verified with the Resend SDK's own Svix verification (which also refuses
timestamps more than five minutes old or ahead), parsed, then stored once by ``svix-id``
with its compliance effects applied - all before the 2xx. Anything refused is answered
4xx and stores nothing; Resend retries what we could not store.

``/unsubscribe/{token}``: RFC 8058. ``POST`` (the mail client's one-click) unsubscribes at
once; ``GET`` only shows a confirmation button, because link scanners fetch URLs. Tokens
are a touch id plus an HMAC: no address or name in any URL.
"""

from __future__ import annotations

import html
import json
from typing import Any

import resend
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse

from gtm_pipeline.outreach.ingest import Fetch, ingest, one_click_unsubscribe
from gtm_pipeline.outreach.settings import SendingSettings
from gtm_pipeline.store import Store

MAX_BODY_BYTES = 256 * 1024
_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>{body}</body></html>"
)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body), status_code=status)


def create_receiver(
    store: Store, settings: SendingSettings, secret: str | None, fetch: Fetch | None
) -> APIRouter:
    """The receiver's routes, bound to one store."""
    router = APIRouter()

    @router.post("/webhooks/resend")
    async def resend_webhook(request: Request) -> JSONResponse:
        if secret is None:
            return JSONResponse({"error": "RESEND_WEBHOOK_SECRET is not configured"}, status_code=503)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return JSONResponse({"error": "body too large"}, status_code=413)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": "body too large"}, status_code=413)
        headers = {
            "id": request.headers.get("svix-id", ""),
            "timestamp": request.headers.get("svix-timestamp", ""),
            "signature": request.headers.get("svix-signature", ""),
        }
        try:
            text = body.decode("utf-8")
            options: Any = {"payload": text, "headers": headers, "webhook_secret": secret}
            event: Any = resend.Webhooks.verify(options)
        except (UnicodeDecodeError, ValueError) as exc:
            return JSONResponse({"error": f"rejected: {str(exc)[:120]}"}, status_code=400)
        if isinstance(event, str):  # older SDKs return the payload unparsed
            try:
                event = json.loads(event)
            except json.JSONDecodeError:
                return JSONResponse({"error": "malformed JSON"}, status_code=400)
        if (
            not isinstance(event, dict)
            or not isinstance(event.get("type"), str)
            or not isinstance(event.get("data"), dict)
        ):
            return JSONResponse({"error": "not a Resend event (type and data required)"}, status_code=422)
        result = await run_in_threadpool(ingest, store, f"svix:{headers['id']}", event, fetch)
        return JSONResponse(
            {"stored": result.new, "event_id": result.event_id, "suppressed": result.suppressed}
        )

    @router.get("/unsubscribe/{token}", response_class=HTMLResponse)
    async def unsubscribe_page(token: str) -> HTMLResponse:
        if settings.touch_for_token(token) is None:
            return _page("Unknown link", "<p>This link is not valid.</p>", 404)
        action = html.escape(f"/unsubscribe/{token}")
        return _page(
            "Unsubscribe",
            f"<p>Stop all email from {html.escape(settings.sender_company)}?</p>"
            f"<form method='post' action='{action}'><button type='submit'>Unsubscribe</button></form>",
        )

    @router.post("/unsubscribe/{token}", response_class=HTMLResponse)
    async def unsubscribe(token: str) -> HTMLResponse:
        touch_id = settings.touch_for_token(token)
        touch = store.ledger.touch(touch_id) if touch_id else None
        if touch is None:
            return _page("Unknown link", "<p>This link is not valid.</p>", 404)
        await run_in_threadpool(one_click_unsubscribe, store, touch, via="one-click")
        return _page("Unsubscribed", "<p>You are unsubscribed. You will not hear from us again.</p>")

    return router
