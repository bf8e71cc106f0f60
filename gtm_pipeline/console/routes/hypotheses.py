"""The hypotheses: each one's funnel to the money, and which signals lead to meetings.

The list compares hypotheses (discovered, written to, meetings, won, meetings per prospect written
to with its 95 % interval); one hypothesis' page shows its funnel and, per kind of discovery's
strongest signal, how many of the prospects written to booked a meeting, with the interval and the
sample size, so the operator can see which signals to weight up (and where the evidence is still too
thin to say). Read-only: computed with DuckDB over a snapshot of the store.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from gtm_pipeline.console import charts, queries
from gtm_pipeline.console.routes.board import funnel_chart
from gtm_pipeline.console.security import Session
from gtm_pipeline.console.web import console, page, viewer

router = APIRouter()


@router.get("/hypotheses", response_class=HTMLResponse)
def hypotheses_page(request: Request, session: Annotated[Session, Depends(viewer)]) -> Response:
    services = console(request).services
    rows = {row.key: row for row in queries.funnels(services.store)}
    slugs = sorted(set(rows) | set(services.hypotheses))
    listed = [
        {
            "slug": slug,
            "title": services.hypotheses[slug].title if slug in services.hypotheses else None,
            "row": rows.get(slug),
        }
        for slug in slugs
    ]
    return page(request, "hypothesis.html", session, listed=listed, one=None)


@router.get("/hypotheses/{slug}", response_class=HTMLResponse)
def hypothesis_page(request: Request, session: Annotated[Session, Depends(viewer)], slug: str) -> Response:
    services = console(request).services
    found = queries.hypothesis_funnel(services.store, slug)
    hypothesis = services.hypotheses.get(slug)
    if hypothesis is None and found.total.count("discovered") == 0:
        return HTMLResponse("no such hypothesis", status_code=404)
    seen = {row.key for row in found.by_signal}
    sought = [s.type for s in hypothesis.signals] if hypothesis else []
    return page(
        request,
        "hypothesis.html",
        session,
        listed=None,
        one={
            "slug": slug,
            "title": hypothesis.title if hypothesis else None,
            "version": hypothesis.version if hypothesis else None,
            "total": found.total,
            "funnel": funnel_chart(found.total),
            "by_signal": found.by_signal,
            "by_skill": found.by_skill,
            "signals_chart": charts.rate_ci_svg(
                [(row.key, row.meeting_rate) for row in found.by_signal],
                what="meetings per prospect written to, by strongest signal",
            ),
            "sought_unseen": [kind for kind in sought if kind not in seen],
        },
    )
