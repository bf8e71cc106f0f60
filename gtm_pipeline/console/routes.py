"""The console's pages and actions (mounted by ``gtm_pipeline.app`` beside the webhook receiver).

Every page needs a session; every POST needs the session's CSRF token. URLs carry only
opaque ids and filter values, never a name or an address; nothing here logs request data.
"""

# No ``from __future__ import annotations`` here: FastAPI must resolve the route annotations,
# and their ``Depends`` name the session checks defined inside ``create_console``.
import datetime as dt
import json
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from gtm_pipeline import dagster_ui
from gtm_pipeline.console import charts, graduation, queries
from gtm_pipeline.console.actions import (
    ActionError,
    approve,
    discard_dead_letter,
    record_rights_request,
    reject,
    retry_dead_letter,
)
from gtm_pipeline.console.security import COOKIE, MAX_AGE_S, ConsoleAuth, Session
from gtm_pipeline.pipeline.privacy import (
    RIGHTS_KINDS,
    UnknownSubjectError,
    fulfil_access,
    fulfil_erasure,
)
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.skills.catalog import SkillCatalog, load_catalog
from gtm_pipeline.store.escalations import Escalations
from gtm_pipeline.store.outreach import OutreachLedger

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def web_url(value: object) -> str:
    """A source link only if it is http(s): evidence URLs come from the web and from model output,
    and autoescaping alone would still let a ``javascript:`` URL through into an href."""
    text = str(value or "")
    return text if urlsplit(text).scheme in ("http", "https") else "#"


TEMPLATES.env.filters["web_url"] = web_url
FLASH_COOKIE = "gtm_flash"
_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # "since the beginning" for journal reads


@dataclass(frozen=True)
class Posted:
    """An action's checked session and its form fields."""

    session: Session
    form: dict[str, Any]


def create_console(services: Services, auth: ConsoleAuth) -> APIRouter:
    """The console routes bound to one set of services."""
    router = APIRouter()

    def fresh_catalog() -> SkillCatalog:
        """The skills as they are on disk now: another process (or a git pull) may have moved one."""
        services.catalog = load_catalog(services.catalog.root)
        return services.catalog

    def session_of(request: Request) -> Session | None:
        return auth.read(request.cookies.get(COOKIE))

    def page(request: Request, name: str, session: Session, **context: Any) -> HTMLResponse:
        open_escalations = Escalations(services.store).open_count()
        response = TEMPLATES.TemplateResponse(
            request,
            name,
            {
                "session": session,
                "csrf": session.csrf,
                "open_escalations": open_escalations,
                "sending_on": OutreachLedger(services.store).sending_on(),
                "dagster_url": dagster_ui.url(services.settings),
                "flash": _read_flash(request.cookies.get(FLASH_COOKIE)),
                **context,
            },
        )
        if FLASH_COOKIE in request.cookies:
            response.delete_cookie(FLASH_COOKIE)
        return response

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

    def done(request: Request, target: str, message: str, ok: bool = True) -> Response:
        if request.headers.get("hx-request"):
            css = "ok" if ok else "error"
            return HTMLResponse(f'<div class="flash {css}" role="status">{_esc(message)}</div>')
        # A plain form post (no htmx): the outcome survives the redirect in a one-shot cookie,
        # so a refused action is never silent.
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            FLASH_COOKIE, quote(json.dumps([ok, message[:500]])), max_age=60, httponly=True, samesite="strict"
        )
        return response

    # ------------------------------------------------------------ login

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> HTMLResponse:
        return TEMPLATES.TemplateResponse(request, "login.html", {"enabled": auth.enabled, "error": None})

    @router.post("/login", response_class=HTMLResponse)
    def login(request: Request, password: str = Form("")) -> Response:
        wait = auth.locked_for()
        if wait > 0:
            message = f"Too many wrong passwords; try again in {int(wait) + 1} s."
            return TEMPLATES.TemplateResponse(
                request,
                "login.html",
                {"enabled": auth.enabled, "error": message},
                status_code=429,
                headers={"retry-after": str(int(wait) + 1)},
            )
        if not auth.check_password(password):
            return TEMPLATES.TemplateResponse(
                request, "login.html", {"enabled": auth.enabled, "error": "Wrong password."}, status_code=401
            )
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE,
            auth.issue(),
            max_age=MAX_AGE_S,
            httponly=True,
            samesite="strict",
            secure=services.settings.console.secure_cookie,
        )
        return response

    @router.post("/logout", dependencies=[Depends(poster)])
    async def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    # ------------------------------------------------------------ pages

    @router.get("/", response_class=HTMLResponse)
    def board_page(
        request: Request,
        session: Annotated[Session, Depends(viewer)],
        hypothesis: str | None = None,
        state: str | None = None,
        group: str | None = None,
        age: str | None = None,
        page_no: str | None = None,
    ) -> Response:
        data = queries.board(
            services.store,
            hypothesis=hypothesis or None,
            state=state or None,
            group=group or None,
            min_age_days=int(age) if age and age.isdigit() else None,
            page=int(page_no) if page_no and page_no.isdigit() else 1,
        )
        return page(request, "board.html", session, board=data, groups=sorted(state_groups()))

    def state_groups() -> list[str]:
        return list(services.catalog.groups)

    @router.get("/reviews", response_class=HTMLResponse)
    def reviews_page(request: Request, session: Annotated[Session, Depends(viewer)]) -> Response:
        return page(request, "reviews.html", session, items=queries.review_items(services.store))

    @router.post("/reviews/{review_id}/approve")
    async def approve_review(
        request: Request, posted: Annotated[Posted, Depends(poster)], review_id: int
    ) -> Response:
        session, form = posted.session, posted.form
        edited = form.get("edited") == "1"
        try:
            result = approve(
                services,
                review_id,
                actor=f"operator:{session.operator}",
                subject=str(form.get("subject", "")) if edited else None,
                body=str(form.get("body", "")) if edited else None,
            )
        except (ActionError, KeyError) as exc:
            return done(request, "/reviews", f"#{review_id} not approved: {exc}", ok=False)
        if result.decision is None:
            return done(request, "/reviews", f"#{review_id} audited: fine")
        what = "edited and approved" if result.edited_artifact else "approved"
        scheduled = (
            f"; send scheduled (touch {result.touch_id})" if result.touch_id else "; waits for sending"
        )
        return done(request, "/reviews", f"#{review_id} {what}{scheduled}")

    @router.post("/reviews/{review_id}/reject")
    async def reject_review(
        request: Request, posted: Annotated[Posted, Depends(poster)], review_id: int
    ) -> Response:
        session, form = posted.session, posted.form
        try:
            reject(
                services, review_id, actor=f"operator:{session.operator}", reason=str(form.get("reason", ""))
            )
        except (ActionError, KeyError, ValueError) as exc:
            return done(request, "/reviews", f"#{review_id} not rejected: {exc}", ok=False)
        return done(request, "/reviews", f"#{review_id} rejected: {form.get('reason', '')}")

    @router.get("/dead-letters", response_class=HTMLResponse)
    def dead_letters_page(request: Request, session: Annotated[Session, Depends(viewer)]) -> Response:
        return page(request, "dead_letters.html", session, items=queries.dead_letters(services.store))

    @router.post("/dead-letters/{dead_id}/{action}")
    async def dead_letter_action(
        request: Request, posted: Annotated[Posted, Depends(poster)], dead_id: int, action: str
    ) -> Response:
        session, form = posted.session, posted.form
        actor = f"operator:{session.operator}"
        try:
            if action == "retry":
                outcome = retry_dead_letter(services, dead_id, actor=actor)
                return done(request, "/dead-letters", f"dead letter #{dead_id} retried: {outcome}")
            if action == "discard":
                discard_dead_letter(services, dead_id, actor=actor, reason=str(form.get("reason", "")))
                return done(request, "/dead-letters", f"dead letter #{dead_id} discarded")
        except (KeyError, ValueError) as exc:
            return done(request, "/dead-letters", str(exc), ok=False)
        return Response("unknown action", status_code=404)

    @router.get("/escalations", response_class=HTMLResponse)
    def escalations_page(request: Request, session: Annotated[Session, Depends(viewer)]) -> Response:
        return page(request, "escalations.html", session, items=Escalations(services.store).open())

    @router.post("/escalations/{escalation_id}/ack")
    async def acknowledge(
        request: Request, posted: Annotated[Posted, Depends(poster)], escalation_id: int
    ) -> Response:
        session, form = posted.session, posted.form
        ok = Escalations(services.store).acknowledge(
            escalation_id, actor=f"operator:{session.operator}", note=str(form.get("note", ""))
        )
        return done(request, "/escalations", f"escalation #{escalation_id} acknowledged", ok=ok)

    @router.get("/prospects/{prospect_id}", response_class=HTMLResponse)
    def prospect_page(
        request: Request, session: Annotated[Session, Depends(viewer)], prospect_id: str
    ) -> Response:
        data = queries.timeline(services.store, prospect_id)
        if data is None:
            return HTMLResponse("no such prospect", status_code=404)
        return page(request, "prospect.html", session, t=data)

    @router.get("/rights", response_class=HTMLResponse)
    def rights_page(request: Request, session: Annotated[Session, Depends(viewer)]) -> Response:
        now = services.clock.now()
        return page(
            request, "rights.html", session, items=queries.rights(services.store), now=now, kinds=RIGHTS_KINDS
        )

    @router.post("/rights")
    async def record_rights(request: Request, posted: Annotated[Posted, Depends(poster)]) -> Response:
        form = posted.form
        try:
            request_id = record_rights_request(
                services, kind=str(form.get("kind", "")), email=str(form.get("email", ""))
            )
        except ActionError as exc:
            return done(request, "/rights", str(exc), ok=False)
        return done(request, "/rights", f"request #{request_id} recorded")

    @router.post("/rights/{request_id}/{action}")
    async def rights_action(
        request: Request, posted: Annotated[Posted, Depends(poster)], request_id: int, action: str
    ) -> Response:
        session, form = posted.session, posted.form
        actor = f"operator:{session.operator}"
        now = services.clock.now()
        try:
            if action == "erase":
                report = fulfil_erasure(
                    services.store, request_id, now=now, reason=f"erasure request #{request_id} ({actor})"
                )
                message = f"request #{request_id}: erased {len(report.prospect_ids)} prospect(s)"
                return done(request, "/rights", message)
            if action == "export":
                data = fulfil_access(services.store, request_id, now=now)
                return Response(
                    json.dumps(data, indent=2, default=str),
                    media_type="application/json",
                    headers={
                        "content-disposition": f'attachment; filename="access-request-{request_id}.json"',
                        "cache-control": "no-store",
                    },
                )
            if action == "complete":
                outcome = str(form.get("outcome", "")).strip()
                if not outcome:
                    raise ActionError("say what was done (kept for the audit, no personal data)")
                services.store.complete_rights_request(request_id, outcome=f"{outcome} ({actor})", at=now)
                return done(request, "/rights", f"request #{request_id} completed")
        except (ActionError, UnknownSubjectError) as exc:
            return done(request, "/rights", str(exc), ok=False)
        return Response("unknown action", status_code=404)

    @router.get("/skills", response_class=HTMLResponse)
    def skills_page(request: Request, session: Annotated[Session, Depends(viewer)]) -> Response:
        catalog = fresh_catalog()
        stats = {(s.skill, s.version, s.group): s for s in graduation.skill_stats(services.store)}
        rows = []
        for skill in sorted(catalog.skills.values(), key=lambda s: s.name):
            found = stats.get((skill.name, skill.version, skill.group.spec.name))
            rows.append(
                {
                    "skill": skill,
                    "stats": found,
                    "blockers": graduation.promotion_blockers(found, catalog, skill.name),
                    "demote_to": skill.group.spec.demote_to,
                }
            )
        moves = [e for e in services.store.journal_of_kind("skill_promoted", _EPOCH)] + [
            e for e in services.store.journal_of_kind("skill_demoted", _EPOCH)
        ]
        return page(
            request, "skills.html", session, rows=rows, moves=sorted(moves, key=lambda e: e.created_at)
        )

    @router.post("/skills/{name}/{direction}")
    async def move_skill(
        request: Request, posted: Annotated[Posted, Depends(poster)], name: str, direction: str
    ) -> Response:
        session = posted.session
        if direction not in ("promote", "demote"):
            return Response("unknown action", status_code=404)
        if not services.settings.paths.skills_editable:
            return done(
                request,
                "/skills",
                f"{name} not {direction}d: these are the bundled demo skills; "
                "`gtm init` makes a workspace with skills of your own to promote",
                ok=False,
            )
        try:
            services.catalog = graduation.move_skill(
                services.store,
                fresh_catalog(),
                name,
                direction=direction,
                actor=f"operator:{session.operator}",
            )
        except (graduation.GraduationError, KeyError) as exc:
            return done(request, "/skills", f"{name} not {direction}d: {exc}", ok=False)
        group = services.catalog.skill(name).group.spec
        return done(request, "/skills", f"{name} {direction}d to {group.name} ({group.mode})")

    @router.get("/charts", response_class=HTMLResponse)
    def charts_page(request: Request, session: Annotated[Session, Depends(viewer)]) -> Response:
        funnels = {slug: charts.funnel_svg(stages) for slug, stages in queries.funnel(services.store).items()}
        weeks = queries.weekly_rates(services.store)
        return page(
            request, "charts.html", session, funnels=funnels, rates=charts.rates_svg(weeks), weeks=weeks
        )

    return router


def _read_flash(raw: str | None) -> dict[str, Any] | None:
    """The one-shot outcome message of the last plain form post (display only, always escaped)."""
    if not raw:
        return None
    try:
        ok, message = json.loads(unquote(raw))
    except (ValueError, TypeError):
        return None
    return {"ok": bool(ok), "message": str(message)}


def _esc(text: str) -> str:
    return escape(text)
