"""Where the inputs went: lists imported, pages not fetched and why, discovery's hits rejected and
sources that failed (by hypothesis and reason), and why prospects left the funnel before any touch
(counts, reasons and the operator's own file names; no personal data).

Both ``gtm status`` and the console's board show it, so it lives below both of them: nothing a
list or the web brought in disappears without a reason on show somewhere the operator looks.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from gtm_pipeline.domain.states import State
from gtm_pipeline.store import Store
from gtm_pipeline.store import schema as t

# Why a prospect left before any touch, each with the state it left in (the board filters by it).
NO_REACHABLE_PERSON = "no reachable person (waits for a manual channel)"
NOTHING_FETCHED = "the site let nothing be fetched"
NO_DATED_SIGNAL = "no dated signal in the recency window"
NOT_A_FIT_PROFILE = "not a fit (profile)"
LEFT_IN_STATE: dict[str, State] = {
    NO_REACHABLE_PERSON: State.UNREACHABLE,
    NOTHING_FETCHED: State.NOT_A_FIT,
    NO_DATED_SIGNAL: State.NOT_A_FIT,
    NOT_A_FIT_PROFILE: State.NOT_A_FIT,
}


def inputs_status(store: Store, days: int = 7) -> dict[str, Any]:
    """Where the last ``days`` of inputs went: lists imported, pages refused and why, and why
    prospects left the funnel before any touch (nothing dropped without a reason on show).

    Shared by ``gtm status`` and the console's board, which is why it lives in the pipeline layer
    (the console may not import the CLI): both show the same figures, worded the same way."""
    since = store.now() - dt.timedelta(days=days)
    refused, fetch_off = _fetch_outcomes(store, since)
    left: dict[str, int] = {}
    for payload in store.prospects.entry_payloads_in_states(
        [State.NOT_A_FIT.value, State.UNREACHABLE.value], since
    ):
        why = left_the_funnel_because(payload)
        if why is not None:
            left[why] = left.get(why, 0) + 1
    return {
        "days": days,
        "imports": [
            {
                "file": i["file_name"],
                "at": i["imported_at"].isoformat(),
                "hypothesis": i["hypothesis_slug"],
                "rows": i["summary"].get("rows"),
                "imported": i["summary"].get("imported"),
                "merged": i["summary"].get("merged"),
                "skipped": len(i["summary"].get("skipped", [])),
            }
            for i in store.imports.recent(5)
            if i["imported_at"] >= since
        ],
        "fetch_refused": dict(sorted(refused.items())),
        "fetch_off": fetch_off,
        "discovery": _discovery_outcomes(store, since),
        "left_the_funnel": dict(sorted(left.items())),
    }


def left_the_funnel_because(payload: dict[str, Any]) -> str | None:
    """The reason, in the operator's words, of the journal entry that moved a prospect to
    ``not_a_fit`` or ``unreachable`` (None for an entry that is not such a verdict)."""
    event = payload.get("event")
    if event == "no_reachable_contact":
        return NO_REACHABLE_PERSON
    if event != "disqualified":
        return None
    if payload.get("rule") == "no_sources":
        return NOTHING_FETCHED
    if "signals_in_window=0/" in str(payload.get("rationale", "")):
        return NO_DATED_SIGNAL
    return NOT_A_FIT_PROFILE


def _fetch_outcomes(store: Store, since: dt.datetime) -> tuple[dict[str, int], int]:
    """Pages refused since ``since`` by reason, and companies not fetched because fetching was
    off: one grouped pass over the journal, not a row per refusal decoded in Python."""
    j = t.journal
    reason = j.c.payload["reason"].as_string()
    query = (
        sa.select(j.c.kind, reason.label("reason"), sa.func.count().label("n"))
        .where(j.c.kind.in_(["fetch_refused", "fetch_skipped"]), j.c.created_at >= since)
        .group_by(j.c.kind, reason)
    )
    refused: dict[str, int] = {}
    fetch_off = 0
    with store.reading() as c:
        for kind, why, n in c.execute(query):
            if kind == "fetch_skipped":
                fetch_off += int(n)
            else:
                refused[str(why)] = refused.get(str(why), 0) + int(n)
    return refused, fetch_off


DISCOVERY_PREFIX = "hypothesis:"  # pipeline/discover.py's discovery_subject


def _discovery_outcomes(store: Store, since: dt.datetime) -> dict[str, dict[str, dict[str, int]]]:
    """Per hypothesis since ``since``: pages discovery rejected (one page found by several sources
    counts once a day, as the journal keeps it), by reason (``quote_not_in_source``,
    ``outside_lookback``, ``excluded_source``, ...), and calls to a source that failed, by source
    and reason (``gdelt: http_503``). One grouped pass over the journal."""
    j = t.journal
    reason = j.c.payload["reason"].as_string()
    source = j.c.payload["source"].as_string()
    query = (
        sa.select(j.c.subject, j.c.kind, reason, source, sa.func.count())
        .where(
            j.c.kind.in_(["signal_rejected", "source_failed"]),
            j.c.subject.startswith(DISCOVERY_PREFIX),
            j.c.created_at >= since,
        )
        .group_by(j.c.subject, j.c.kind, reason, source)
    )
    shown: dict[str, dict[str, dict[str, int]]] = {}
    with store.reading() as c:
        for subject, kind, why, where, n in c.execute(query):
            outcome = shown.setdefault(
                str(subject).removeprefix(DISCOVERY_PREFIX), {"rejected": {}, "failed": {}}
            )
            if kind == "signal_rejected":
                outcome["rejected"][str(why)] = outcome["rejected"].get(str(why), 0) + int(n)
            else:
                label = f"{where}: {why}"
                outcome["failed"][label] = outcome["failed"].get(label, 0) + int(n)
    return {
        slug: {key: dict(sorted(counts.items())) for key, counts in outcome.items()}
        for slug, outcome in sorted(shown.items())
    }
