"""Data principals' requests (DPDP): record one, erase, download what is held, or close it."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from gtm_pipeline.console import queries
from gtm_pipeline.console.actions import ActionError, record_rights_request
from gtm_pipeline.console.security import Session
from gtm_pipeline.console.web import Posted, RowId, console, done, page, poster, viewer
from gtm_pipeline.pipeline.privacy import RIGHTS_KINDS, UnknownSubjectError, fulfil_access, fulfil_erasure
from gtm_pipeline.pipeline.services import Services

router = APIRouter()


@router.get("/rights", response_class=HTMLResponse)
def rights_page(request: Request, session: Annotated[Session, Depends(viewer)]) -> Response:
    services = console(request).services
    return page(
        request,
        "rights.html",
        session,
        items=queries.rights(services.store, services.clock.now()),
        kinds=RIGHTS_KINDS,
    )


@router.post("/rights")
async def record_rights(request: Request, posted: Annotated[Posted, Depends(poster)]) -> Response:
    form = posted.form
    try:
        request_id = record_rights_request(
            console(request).services, kind=str(form.get("kind", "")), email=str(form.get("email", ""))
        )
    except ActionError as exc:
        return done(request, "/rights", str(exc), ok=False)
    return done(request, "/rights", f"request #{request_id} recorded")


@router.post("/rights/{request_id}/{action}")
async def rights_action(
    request: Request, posted: Annotated[Posted, Depends(poster)], request_id: RowId, action: str
) -> Response:
    services = console(request).services
    actor, now = posted.actor, services.clock.now()
    try:
        if action == "erase":
            report = fulfil_erasure(
                services.store,
                request_id,
                now=now,
                reason=f"erasure request #{request_id} ({actor})",
                pages=services.pages,
            )
            _answered(services, request_id, "erase", actor)
            return done(
                request,
                "/rights",
                f"request #{request_id}: erased {len(report.prospect_ids)} prospect(s); "
                + _found(report.counts),
            )
        if action == "export":
            data = fulfil_access(services.store, request_id, now=now)
            _answered(services, request_id, "export", actor)
            return Response(
                json.dumps(data, indent=2, default=str),
                media_type="application/json",
                headers={
                    "content-disposition": f'attachment; filename="access-request-{request_id}.json"',
                    "cache-control": "no-store",
                },
            )
        if action == "complete":
            outcome = str(posted.form.get("outcome", "")).strip()
            if not outcome:
                raise ActionError("say what was done (kept for the audit, no personal data)")
            services.store.privacy.complete_rights_request(request_id, outcome=f"{outcome} ({actor})", at=now)
            _answered(services, request_id, "complete", actor)
            return done(request, "/rights", f"request #{request_id} completed")
    except (ActionError, UnknownSubjectError) as exc:
        return done(request, "/rights", str(exc), ok=False)
    return Response("unknown action", status_code=404)


def _answered(services: Services, request_id: int, action: str, actor: str) -> None:
    """Journal who answered the request and how (the page shows it beside the outcome); ids only."""
    services.store.journal.append(
        subject=f"rights_request:{request_id}",
        kind=queries.RIGHTS_ANSWERED,
        actor=actor,
        payload={"request_id": request_id, "action": action},
    )


def _found(counts: dict[str, int]) -> str:
    """Where the person was found and removed, in counts (a person only named elsewhere has no
    prospect of their own, and must not read as 'nothing done')."""
    shown = {k: v for k, v in sorted(counts.items()) if v}
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in shown.items()) or "nothing else held"
