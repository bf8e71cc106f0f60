"""What every console page and action shares: templates, the session and CSRF checks, the page
frame and the outcome of an action (a flash that survives a plain form post's redirect).

Every page needs a session; every POST needs the session's CSRF token. URLs carry only opaque ids
and filter values, never a name or an address; nothing here logs request data.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlsplit

from fastapi import HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from gtm_pipeline.console import dagster_link
from gtm_pipeline.console.security import COOKIE, ConsoleAuth, Session
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.skills.catalog import SkillCatalog, load_catalog

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
FLASH_COOKIE = "gtm_flash"
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # "since the beginning" for journal reads
MAX_ROW_ID = 2**63 - 1  # what SQLite and Postgres can hold: a bigger number is a 422, not a 500
RowId = Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)]


def bounded(value: str | None, name: str, low: int, high: int) -> int | None:
    """A whole-number filter from a query string: None when blank (an empty form field), else a
    number within ``[low, high]``; anything else is the client's mistake (400), never a 500."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > len(str(high)) or not low <= int(text) <= high:
        raise HTTPException(400, f"{name} must be a whole number from {low} to {high}")
    return int(text)


def web_url(value: object) -> str:
    """A source link only if it is http(s): evidence URLs come from the web and from model output,
    and autoescaping alone would still let a ``javascript:`` URL through into an href."""
    text = str(value or "")
    return text if urlsplit(text).scheme in ("http", "https") else "#"


TEMPLATES.env.filters["web_url"] = web_url


@dataclass
class Console:
    """The services and the login the console's routes work with (kept on the app's state)."""

    services: Services
    auth: ConsoleAuth

    def fresh_catalog(self) -> SkillCatalog:
        """The skills as they are on disk now: another process (or a git pull) may have moved one."""
        self.services.catalog = load_catalog(self.services.catalog.root)
        return self.services.catalog


@dataclass(frozen=True)
class Posted:
    """An action's checked session and its form fields."""

    session: Session
    form: dict[str, Any]

    @property
    def actor(self) -> str:
        return actor(self.session)


def console(request: Request) -> Console:
    found = getattr(request.app.state, "console", None)
    if not isinstance(found, Console):
        raise RuntimeError("the console is not mounted (gtm_pipeline.console.routes.mount)")
    return found


def actor(session: Session) -> str:
    """Who a console decision is journaled as."""
    return f"operator:{session.operator}"


def session_of(request: Request) -> Session | None:
    return console(request).auth.read(request.cookies.get(COOKIE))


def viewer(request: Request) -> Session:
    """Every page needs a session; without one, the browser goes to the login page."""
    session = session_of(request)
    if session is None:
        raise HTTPException(303, "login required", headers={"location": "/login"})
    return session


async def poster(request: Request) -> Posted:
    """Every action needs a session and its CSRF token (form field or htmx header)."""
    session = session_of(request)
    if session is None:
        raise HTTPException(401, "login required")
    form = dict(await request.form())
    token = request.headers.get("x-csrf-token") or form.get("csrf")
    if not ConsoleAuth.csrf_ok(session, str(token) if token else None):
        raise HTTPException(403, "CSRF token missing or wrong")
    return Posted(session, form)


def page(request: Request, name: str, session: Session, **context: Any) -> HTMLResponse:
    """A page in the console's frame: escalation count, whether sending is on, the Dagster link."""
    services = console(request).services
    response = TEMPLATES.TemplateResponse(
        request,
        name,
        {
            "session": session,
            "csrf": session.csrf,
            "open_escalations": services.store.escalations.open_count(),
            "sending_on": services.store.ledger.sending_on(),
            "dagster_url": dagster_link.url(services.settings),
            "flash": _read_flash(request.cookies.get(FLASH_COOKIE)),
            **context,
        },
    )
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE)
    return response


def done(request: Request, target: str, message: str, ok: bool = True) -> Response:
    """An action's outcome: inline for htmx, else a redirect carrying it, so a refusal is never silent."""
    if request.headers.get("hx-request"):
        css = "ok" if ok else "error"
        return HTMLResponse(f'<div class="flash {css}" role="status">{escape(message)}</div>')
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        FLASH_COOKIE, quote(json.dumps([ok, message[:500]])), max_age=60, httponly=True, samesite="strict"
    )
    return response


def _read_flash(raw: str | None) -> dict[str, Any] | None:
    """The one-shot outcome message of the last plain form post (display only, always escaped)."""
    if not raw:
        return None
    try:
        ok, message = json.loads(unquote(raw))
    except (ValueError, TypeError):
        return None
    return {"ok": bool(ok), "message": str(message)}
