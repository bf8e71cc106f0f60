"""Prospects by state, one prospect's timeline, and the charts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from gtm_pipeline.console import charts, queries
from gtm_pipeline.console.security import Session
from gtm_pipeline.console.web import bounded, console, page, viewer

router = APIRouter()
MAX_AGE_DAYS = 36_500  # a century: any real filter fits, no date arithmetic overflows
MAX_PAGE = 1_000_000  # 50 million prospects a page of 50 at a time


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
    services = console(request).services
    data = queries.board(
        services.store,
        hypothesis=hypothesis or None,
        state=state or None,
        group=group or None,
        min_age_days=bounded(age, "age", 0, MAX_AGE_DAYS),
        page=bounded(page_no, "page_no", 1, MAX_PAGE) or 1,
    )
    return page(
        request,
        "board.html",
        session,
        board=data,
        groups=sorted(services.catalog.groups),
        inputs=queries.inputs(services.store),
    )


@router.get("/prospects/{prospect_id}", response_class=HTMLResponse)
def prospect_page(
    request: Request, session: Annotated[Session, Depends(viewer)], prospect_id: str
) -> Response:
    data = queries.timeline(console(request).services.store, prospect_id)
    if data is None:
        return HTMLResponse("no such prospect", status_code=404)
    return page(request, "prospect.html", session, t=data)


@router.get("/charts", response_class=HTMLResponse)
def charts_page(request: Request, session: Annotated[Session, Depends(viewer)]) -> Response:
    store = console(request).services.store
    funnels = {slug: charts.funnel_svg(stages) for slug, stages in queries.funnel(store).items()}
    weeks = queries.weekly_rates(store)
    return page(request, "charts.html", session, funnels=funnels, rates=charts.rates_svg(weeks), weeks=weeks)
