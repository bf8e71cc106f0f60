"""The review queue: each draft beside its evidence; approve, edit then approve, or reject.

Two views of one queue: the list (``/reviews``, every card, filters) and triage, one card at a
time (``/reviews/<key>``), where an approval or a rejection answers with the next card (htmx swaps
it in, no page load). Items are named by their stable key (``r3f9a2c1b0d4e``: the same draft of the
same prospect has the same key in every run); the old row numbers and prospect ids still resolve.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response

from gtm_pipeline.console import review_queue
from gtm_pipeline.console.actions import ActionError, approve, reject
from gtm_pipeline.console.review_queue import REJECT_REASONS, ReviewFilters
from gtm_pipeline.console.security import Session
from gtm_pipeline.console.web import (
    MAX_ROW_ID,
    TEMPLATES,
    Posted,
    bounded,
    console,
    done,
    page,
    poster,
    viewer,
)
from gtm_pipeline.store import ReviewItem
from gtm_pipeline.store.reviews import REF_PATTERN, AmbiguousReviewError, review_key

router = APIRouter()
MAX_FILTER_TEXT = 100  # a hypothesis slug or a group name; longer is a mistake, not a filter
ReviewRef = Annotated[str, PathParam(pattern=REF_PATTERN, max_length=40)]


def _text(value: str | None, name: str) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > MAX_FILTER_TEXT:
        raise HTTPException(400, f"{name} must be at most {MAX_FILTER_TEXT} characters")
    return value.strip()


def _filters(values: dict[str, Any]) -> ReviewFilters:
    """The queue's filters from a query string or a form, validated like the board's (400 if bad)."""

    def raw(name: str) -> str | None:
        value = values.get(name)
        return str(value) if value is not None else None

    low = bounded(raw("min_conf"), "min_conf", 0, 100)
    high = bounded(raw("max_conf"), "max_conf", 0, 100)
    if low is not None and high is not None and low > high:
        raise HTTPException(400, "min_conf must not be above max_conf")
    return ReviewFilters(
        hypothesis=_text(raw("hypothesis"), "hypothesis"),
        group=_text(raw("group"), "group"),
        min_confidence=low,
        max_confidence=high,
    )


def _item(request: Request, ref: str) -> ReviewItem | None:
    if ref.isdigit() and int(ref) > MAX_ROW_ID:
        raise HTTPException(422, "no such review item")
    try:
        return console(request).services.store.reviews.resolve(ref)
    except AmbiguousReviewError as exc:
        raise HTTPException(409, str(exc)) from None


def _url(key: str | None, filters: ReviewFilters) -> str:
    query = urlencode(filters.query())
    return (f"/reviews/{key}" if key else "/reviews") + (f"?{query}" if query else "")


@router.get("/reviews", response_class=HTMLResponse)
def reviews_page(request: Request, session: Annotated[Session, Depends(viewer)]) -> Response:
    store = console(request).services.store
    filters = _filters(dict(request.query_params))
    items = review_queue.cards(store, filters)
    first = _url(items[0]["key"], filters) if items else None
    return page(
        request,
        "reviews.html",
        session,
        items=items,
        filters=filters,
        options=review_queue.options(store),
        reasons=REJECT_REASONS,
        first=first,
        mode="list",
    )


def _triage(request: Request, key: str | None, filters: ReviewFilters, **extra: Any) -> dict[str, Any]:
    """What the one-card view shows: the card, its place in the queue, the links either side."""
    store = console(request).services.store
    try:
        item = store.reviews.resolve(key) if key else None
    except AmbiguousReviewError:  # two drafts share the short key: the card is named by its artifact
        item = None
    view = review_queue.card(store, item.id) if item else None
    index, total, previous, following = review_queue.position(store, key or "", filters)
    return {
        "item": view,
        "index": index,
        "total": total,
        "prev_url": _url(previous, filters) if previous else None,
        "next_url": _url(following, filters) if following else None,
        "filters": filters,
        "hidden_filters": filters.query(),
        "reasons": REJECT_REASONS,
        "mode": "one",
        **extra,
    }


@router.get("/reviews/{ref}", response_class=HTMLResponse)
def review_one(request: Request, session: Annotated[Session, Depends(viewer)], ref: ReviewRef) -> Response:
    found = _item(request, ref)
    if found is None:
        return HTMLResponse("no such review item", status_code=404)
    filters = _filters(dict(request.query_params))
    context = _triage(request, review_key(found.artifact_id), filters)
    fragment = request.headers.get("hx-request") and not request.headers.get("hx-history-restore-request")
    if fragment:
        return TEMPLATES.TemplateResponse(
            request, "partials/review_triage.html", {**context, "csrf": session.csrf}
        )
    return page(request, "review_one.html", session, **context)


def _next_card(
    request: Request, posted: Posted, key: str, before: list[str], message: str, ok: bool
) -> Response:
    """After a decision in triage: the outcome and the next card (htmx), or a redirect to it."""
    filters = _filters(posted.form)
    following = review_queue.following(console(request).services.store, key, filters, before) if ok else key
    target = _url(following, filters)
    if not request.headers.get("hx-request"):
        return done(request, target, message, ok=ok)
    context = _triage(request, following, filters, flash={"ok": ok, "message": message})
    response = TEMPLATES.TemplateResponse(
        request, "partials/review_triage.html", {**context, "csrf": posted.session.csrf}
    )
    if following and ok:
        response.headers["HX-Push-Url"] = target
    return response


def _label(request: Request, item: ReviewItem) -> str:
    """How an outcome names the item: key, company, and the old row number."""
    names = console(request).services.store.prospects.company_names([item.prospect_id])
    company = names.get(item.prospect_id, item.prospect_id)
    return f"{review_key(item.artifact_id)} · {company} · #{item.id}"


def _before(request: Request, posted: Posted) -> list[str]:
    if posted.form.get("next") != "1":
        return []
    return [q.key for q in review_queue.ordered(console(request).services.store, _filters(posted.form))]


@router.post("/reviews/{ref}/approve")
async def approve_review(
    request: Request, posted: Annotated[Posted, Depends(poster)], ref: ReviewRef
) -> Response:
    item = _item(request, ref)
    if item is None:
        return done(request, "/reviews", f"{ref} not approved: no such review item", ok=False)
    form = posted.form
    edited = form.get("edited") == "1"
    label, key, before = _label(request, item), review_key(item.artifact_id), _before(request, posted)
    try:
        result = approve(
            console(request).services,
            item.id,
            actor=posted.actor,
            subject=str(form.get("subject", "")) if edited else None,
            body=str(form.get("body", "")) if edited else None,
        )
    except (ActionError, KeyError) as exc:
        message, ok = f"{label} not approved: {exc}", False
    else:
        if result.decision is None:
            message = f"{label} audited: fine"
        else:
            what = "edited and approved" if result.edited_artifact else "approved"
            scheduled = (
                f"; send scheduled (touch {result.touch_id})" if result.touch_id else "; waits for sending"
            )
            message = f"{label} {what}{scheduled}"
        ok = True
    if form.get("next") == "1":
        return _next_card(request, posted, key, before, message, ok)
    return done(request, "/reviews", message, ok=ok)


@router.post("/reviews/{ref}/reject")
async def reject_review(
    request: Request, posted: Annotated[Posted, Depends(poster)], ref: ReviewRef
) -> Response:
    item = _item(request, ref)
    if item is None:
        return done(request, "/reviews", f"{ref} not rejected: no such review item", ok=False)
    # a reason picked from the short list (the button pressed) wins over the free-text field
    reason = str(posted.form.get("reason_choice") or posted.form.get("reason") or "").strip()
    label, key, before = _label(request, item), review_key(item.artifact_id), _before(request, posted)
    try:
        reject(console(request).services, item.id, actor=posted.actor, reason=reason)
    except (ActionError, KeyError, ValueError) as exc:
        message, ok = f"{label} not rejected: {exc}", False
    else:
        message, ok = f"{label} rejected: {reason}", True
    if posted.form.get("next") == "1":
        return _next_card(request, posted, key, before, message, ok)
    return done(request, "/reviews", message, ok=ok)
