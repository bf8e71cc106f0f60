"""The review queue: each draft beside its evidence; approve, edit then approve, or reject."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from gtm_pipeline.console import queries
from gtm_pipeline.console.actions import ActionError, approve, reject
from gtm_pipeline.console.security import Session
from gtm_pipeline.console.web import Posted, RowId, console, done, page, poster, viewer

router = APIRouter()


@router.get("/reviews", response_class=HTMLResponse)
def reviews_page(request: Request, session: Annotated[Session, Depends(viewer)]) -> Response:
    return page(request, "reviews.html", session, items=queries.review_items(console(request).services.store))


@router.post("/reviews/{review_id}/approve")
async def approve_review(
    request: Request, posted: Annotated[Posted, Depends(poster)], review_id: RowId
) -> Response:
    form = posted.form
    edited = form.get("edited") == "1"
    try:
        result = approve(
            console(request).services,
            review_id,
            actor=posted.actor,
            subject=str(form.get("subject", "")) if edited else None,
            body=str(form.get("body", "")) if edited else None,
        )
    except (ActionError, KeyError) as exc:
        return done(request, "/reviews", f"#{review_id} not approved: {exc}", ok=False)
    if result.decision is None:
        return done(request, "/reviews", f"#{review_id} audited: fine")
    what = "edited and approved" if result.edited_artifact else "approved"
    scheduled = f"; send scheduled (touch {result.touch_id})" if result.touch_id else "; waits for sending"
    return done(request, "/reviews", f"#{review_id} {what}{scheduled}")


@router.post("/reviews/{review_id}/reject")
async def reject_review(
    request: Request, posted: Annotated[Posted, Depends(poster)], review_id: RowId
) -> Response:
    reason = str(posted.form.get("reason", ""))
    try:
        reject(console(request).services, review_id, actor=posted.actor, reason=reason)
    except (ActionError, KeyError, ValueError) as exc:
        return done(request, "/reviews", f"#{review_id} not rejected: {exc}", ok=False)
    return done(request, "/reviews", f"#{review_id} rejected: {reason}")
