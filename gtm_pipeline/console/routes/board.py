"""Prospects by state, one prospect's timeline, and the charts (the funnel to the money with its
confidence intervals, per hypothesis, drafting skill version and signal kind; weekly reply rates)."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from gtm_pipeline.console import charts, queries
from gtm_pipeline.console.security import Session
from gtm_pipeline.console.web import bounded, console, page, viewer
from gtm_pipeline.funnel import FunnelRow
from gtm_pipeline.funnel.cache import KEPT, cached_funnel
from gtm_pipeline.funnel.snapshot import version
from gtm_pipeline.store import Store

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
    data = cached_funnel(store)  # one snapshot for the three groupings
    by_hypothesis = data.rows("hypothesis")
    by_skill = data.rows("skill")
    by_signal = data.rows("signal")
    funnels = {row.key: funnel_chart(row) for row in by_hypothesis}
    weeks = _weekly_rates(store)
    return page(
        request,
        "charts.html",
        session,
        funnels=funnels,
        hypothesis_rows=by_hypothesis,
        skill_rows=by_skill,
        signal_rows=by_signal,
        rates=charts.rates_svg(weeks),
        weeks=weeks,
    )


def funnel_chart(row: FunnelRow) -> str:
    """A group's funnel as bars, each conversion with its 95 % interval (the hypothesis page too)."""
    return charts.funnel_svg([(s.name, s.count) for s in row.stages], intervals=[s.rate for s in row.stages])


_WEEKS: dict[str, tuple[tuple[object, ...], list[dict[str, Any]]]] = {}
_WEEKS_LOCK = threading.Lock()


def _weekly_rates(store: Store) -> list[dict[str, Any]]:
    """:func:`queries.weekly_rates`, kept while the journal has not moved and the day is the same:
    it reads every send and reply in the journal, which at 100,000 prospects costs as much as the
    funnel itself (the same stamp as :mod:`gtm_pipeline.funnel.cache`; the date moves the range)."""
    key = store.engine.url.render_as_string(hide_password=True)
    stamp = (version(store), store.now().date())
    with _WEEKS_LOCK:
        held = _WEEKS.get(key)
        if held is not None and held[0] == stamp:
            return held[1]
    weeks = queries.weekly_rates(store)
    with _WEEKS_LOCK:
        _WEEKS.pop(key, None)
        _WEEKS[key] = (stamp, weeks)
        while len(_WEEKS) > KEPT:
            _WEEKS.pop(next(iter(_WEEKS)))
    return weeks
