"""Skill graduation: each skill version's review record and eval, and promote / demote (the folder moves)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from gtm_pipeline.console import graduation
from gtm_pipeline.console.security import Session
from gtm_pipeline.console.web import EPOCH, Console, Posted, console, done, page, poster, viewer
from gtm_pipeline.skills.catalog import SkillFileError

router = APIRouter()


@router.get("/skills", response_class=HTMLResponse)
def skills_page(request: Request, session: Annotated[Session, Depends(viewer)]) -> Response:
    current = console(request)
    store = current.services.store
    moves = [*store.journal.of_kind("skill_promoted", EPOCH), *store.journal.of_kind("skill_demoted", EPOCH)]
    moves.sort(key=lambda e: e.created_at)
    try:
        catalog = current.fresh_catalog()
    except SkillFileError as exc:  # someone is editing a SKILL.md: say which file and what, not a 500
        response = page(request, "skills.html", session, rows=[], moves=moves, broken=_broken(exc, current))
        response.status_code = 503
        return response
    stats = {(s.skill, s.version, s.group): s for s in graduation.skill_stats(store)}
    rows = []
    for skill in sorted(catalog.skills.values(), key=lambda s: s.name):
        found = stats.get((skill.name, skill.version, skill.group.spec.name))
        evaluation = graduation.latest_eval(store, catalog, skill.name)
        outcome = graduation.outcome_record(store, catalog, skill.name)
        rows.append(
            {
                "skill": skill,
                "stats": found,
                "eval": evaluation,
                "eval_problems": graduation.eval_blockers(evaluation, catalog, skill.name),
                # promote is offered only when this is empty; otherwise the page lists it instead
                "outcome": outcome,
                "blockers": graduation.promotion_blockers(found, catalog, skill.name, evaluation, outcome),
                "bar": graduation.promotion_bar(catalog, skill.name),
                "eval_bar": graduation.eval_bar(catalog, skill.name),
                "demote_to": skill.group.spec.demote_to,
            }
        )
    return page(request, "skills.html", session, rows=rows, moves=moves, broken=None)


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
    except SkillFileError as exc:
        return done(request, "/skills", f"{name} not {direction}d: {_broken(exc, current)}", ok=False)
    except (graduation.GraduationError, KeyError) as exc:
        return done(request, "/skills", f"{name} not {direction}d: {exc}", ok=False)
    group = services.catalog.skill(name).group.spec
    return done(request, "/skills", f"{name} {direction}d to {group.name} ({group.mode})")


def _broken(exc: SkillFileError, current: Console) -> str:
    """What is wrong on disk, with the file named relative to the skills folder."""
    root = current.services.catalog.root
    try:
        where = str(exc.path.relative_to(root))
    except ValueError:
        where = exc.path.name
    message = str(exc).split(": ", 2)[-1]
    return f"the skills on disk cannot be read: {where}: {exc.field}: {message}"
