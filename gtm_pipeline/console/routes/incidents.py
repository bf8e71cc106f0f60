"""What failed and waits for the operator: dead letters (retry, discard) and escalations (acknowledge)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from gtm_pipeline.console import queries
from gtm_pipeline.console.actions import discard_dead_letter, retry_dead_letter
from gtm_pipeline.console.security import Session
from gtm_pipeline.console.web import Posted, RowId, console, done, page, poster, viewer
from gtm_pipeline.store import Store
from gtm_pipeline.store.escalations import Escalation

router = APIRouter()


@router.get("/dead-letters", response_class=HTMLResponse)
def dead_letters_page(request: Request, session: Annotated[Session, Depends(viewer)]) -> Response:
    return page(
        request, "dead_letters.html", session, items=queries.dead_letters(console(request).services.store)
    )


@router.post("/dead-letters/{dead_id}/{action}")
async def dead_letter_action(
    request: Request, posted: Annotated[Posted, Depends(poster)], dead_id: RowId, action: str
) -> Response:
    services = console(request).services
    try:
        if action == "retry":
            outcome = retry_dead_letter(services, dead_id, actor=posted.actor)
            return done(request, "/dead-letters", f"dead letter #{dead_id} retried: {outcome}")
        if action == "discard":
            reason = str(posted.form.get("reason", ""))
            discard_dead_letter(services, dead_id, actor=posted.actor, reason=reason)
            return done(request, "/dead-letters", f"dead letter #{dead_id} discarded")
    except (KeyError, ValueError) as exc:
        return done(request, "/dead-letters", str(exc), ok=False)
    return Response("unknown action", status_code=404)


@router.get("/escalations", response_class=HTMLResponse)
def escalations_page(request: Request, session: Annotated[Session, Depends(viewer)]) -> Response:
    store = console(request).services.store
    items = store.escalations.open()
    return page(
        request,
        "escalations.html",
        session,
        items=items,
        companies=_companies(store, items),
        handled_at=HANDLED_AT,
    )


# Where an escalation's detail is handled, by its kind (a link beside "Acknowledge").
HANDLED_AT = {"dead_letter": "/dead-letters", "rights_overdue": "/rights"}


def _companies(store: Store, items: list[Escalation]) -> dict[str, str]:
    """The company of each escalation about a prospect, so the row names it beside the id."""
    names = {}
    for subject in {e.subject or "" for e in items}:
        if subject.startswith("p_") and (prospect := store.prospects.get(subject)) is not None:
            names[subject] = prospect.company_name
    return names


@router.post("/escalations/{escalation_id}/ack")
async def acknowledge(
    request: Request, posted: Annotated[Posted, Depends(poster)], escalation_id: RowId
) -> Response:
    ok = console(request).services.store.escalations.acknowledge(
        escalation_id, actor=posted.actor, note=str(posted.form.get("note", ""))
    )
    return done(request, "/escalations", f"escalation #{escalation_id} acknowledged", ok=ok)
