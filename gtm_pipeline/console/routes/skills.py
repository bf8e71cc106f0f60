"""Skill graduation: each skill version's review record, and promote / demote (the folder moves)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from gtm_pipeline.console import graduation
from gtm_pipeline.console.security import Session
from gtm_pipeline.console.web import EPOCH, Posted, console, done, page, poster, viewer

router = APIRouter()


@router.get("/skills", response_class=HTMLResponse)
def skills_page(request: Request, session: Annotated[Session, Depends(viewer)]) -> Response:
    current = console(request)
    store = current.services.store
    catalog = current.fresh_catalog()
    stats = {(s.skill, s.version, s.group): s for s in graduation.skill_stats(store)}
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
    moves = [*store.journal.of_kind("skill_promoted", EPOCH), *store.journal.of_kind("skill_demoted", EPOCH)]
    return page(request, "skills.html", session, rows=rows, moves=sorted(moves, key=lambda e: e.created_at))


@router.post("/skills/{name}/{direction}")
async def move_skill(
    request: Request, posted: Annotated[Posted, Depends(poster)], name: str, direction: str
) -> Response:
    current = console(request)
    services = current.services
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
            services.store, current.fresh_catalog(), name, direction=direction, actor=posted.actor
        )
    except (graduation.GraduationError, KeyError) as exc:
        return done(request, "/skills", f"{name} not {direction}d: {exc}", ok=False)
    group = services.catalog.skill(name).group.spec
    return done(request, "/skills", f"{name} {direction}d to {group.name} ({group.mode})")
