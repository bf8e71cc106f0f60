"""The minimal receiver ``bench/webhooks.py`` measures ``gtm serve`` against (served by uvicorn).

What any receiver must do and nothing more: read the body, verify its Svix signature with the same
library call the real receiver makes (``resend.Webhooks.verify``, which also checks the timestamp),
and store it once by ``svix-id`` with one ``INSERT OR IGNORE`` committed to SQLite (WAL,
``synchronous=NORMAL``, as the store runs it) before answering. One connection, written from the
event loop: with no other work per request, that is the fastest a minimal app is written. No size
cap, no typed event, no correlation, no suppressions: the ratio shows what those cost.

    BASELINE_DB=/tmp/b.sqlite RESEND_WEBHOOK_SECRET=whsec_... \\
        python -m uvicorn --app-dir bench webhook_baseline:app --port 8026
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

import resend
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SECRET = os.environ.get("RESEND_WEBHOOK_SECRET", "")
_db = sqlite3.connect(
    os.environ.get("BASELINE_DB", ":memory:"), isolation_level=None, check_same_thread=False
)
_db.execute("PRAGMA journal_mode=WAL")
_db.execute("PRAGMA synchronous=NORMAL")
_db.execute("CREATE TABLE IF NOT EXISTS events (svix_id TEXT PRIMARY KEY, payload TEXT NOT NULL)")


async def receive(request: Request) -> JSONResponse:
    text = (await request.body()).decode()
    headers = {
        "id": request.headers.get("svix-id", ""),
        "timestamp": request.headers.get("svix-timestamp", ""),
        "signature": request.headers.get("svix-signature", ""),
    }
    try:
        options: Any = {"payload": text, "headers": headers, "webhook_secret": SECRET}
        resend.Webhooks.verify(options)
    except ValueError:
        return JSONResponse({"error": "rejected"}, status_code=400)
    stored = _db.execute("INSERT OR IGNORE INTO events VALUES (?, ?)", (headers["id"], text)).rowcount
    return JSONResponse({"stored": bool(stored)})


async def healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[Route("/webhooks/resend", receive, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])]
)
