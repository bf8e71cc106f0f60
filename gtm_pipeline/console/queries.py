"""Read models of the console: what each page shows, in a few indexed queries each.

Pages must stay fast with 300,000 prospects: counts are single GROUP BY queries, lists are
paged from an index (the board's, migration 0018), and a prospect's timeline reads only that
prospect's rows.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from gtm_pipeline.console import review_queue
from gtm_pipeline.console.timeline import story
from gtm_pipeline.console.why_here import why_here
from gtm_pipeline.domain.contracts import (
    ContextPackFinding,
    ProfileFinding,
    SkillResult,
)
from gtm_pipeline.domain.states import Event, State
from gtm_pipeline.funnel import Dimension, FunnelRow
from gtm_pipeline.funnel.cache import cached_funnel
from gtm_pipeline.pipeline.inputs_report import LEFT_IN_STATE, inputs_status
from gtm_pipeline.store import ArtifactRecord, Store
from gtm_pipeline.store import schema as t
from gtm_pipeline.store.contacts import ContactRecord

PAGE_SIZE = 50


@dataclass
class Board:
    counts: dict[str, int]
    hypotheses: list[str]
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    filters: dict[str, Any] = field(default_factory=dict)


def board(
    store: Store,
    *,
    hypothesis: str | None = None,
    state: str | None = None,
    group: str | None = None,
    min_age_days: int | None = None,
    page: int = 1,
    now: dt.datetime | None = None,
) -> Board:
    """Prospects by state, filtered and paged.

    Three queries, none reading the prospects table row by row (the board indexes of migration
    0018): the counts by state in one grouped pass over an index (the total is read from them, not
    counted again), the hypotheses by a loose index scan, and the page (:func:`board_page`)."""
    p = t.prospects
    where: list[sa.ColumnElement[bool]] = []
    if hypothesis:
        where.append(p.c.hypothesis_slug == hypothesis)
    if min_age_days:
        cutoff = (now or store.now()) - dt.timedelta(days=min_age_days)
        where.append(p.c.state_since <= cutoff)
    if group:
        drafted_in_group = (
            sa.select(t.artifacts.c.prospect_id)
            .where(t.artifacts.c.kind == "draft", t.artifacts.c.meta["group"].as_string() == group)
            .scalar_subquery()
        )
        where.append(p.c.id.in_(drafted_in_group))
    page = max(1, page)
    with store.reading() as c:
        counts = {
            str(r.state): int(r.n)
            for r in c.execute(
                sa.select(p.c.state, sa.func.count().label("n")).where(*where).group_by(p.c.state)
            )
        }
        hypotheses = [str(slug) for slug in c.execute(_hypothesis_slugs()).scalars()]
        total = counts.get(state, 0) if state else sum(counts.values())
        listed = [*where, p.c.state == state] if state else where
        offset = (page - 1) * PAGE_SIZE
        rows = [dict(r._mapping) for r in c.execute(board_page(listed, offset))] if offset < total else []
    ordered = {s.value: counts.get(s.value, 0) for s in State if counts.get(s.value)}
    return Board(
        counts=ordered,
        hypotheses=sorted(hypotheses),
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        filters={"hypothesis": hypothesis, "state": state, "group": group, "min_age_days": min_age_days},
    )


def board_page(listed: list[sa.ColumnElement[bool]], offset: int) -> sa.Select[Any]:
    """One page of the board, newest state change first, as a deferred join: the ids of the page
    are picked from a covering index alone (``state_since, id`` behind the filtered columns), so
    an OFFSET deep into 300,000 prospects walks index entries, not rows; only the page's 50 rows
    are then read from the table. Page numbers stay plain ``page_no`` links."""
    p = t.prospects
    order = (p.c.state_since.desc(), p.c.id)
    ids = sa.select(p.c.id).where(*listed).order_by(*order).limit(PAGE_SIZE).offset(offset).correlate(None)
    return (
        sa.select(p.c.id, p.c.company_name, p.c.hypothesis_slug, p.c.state, p.c.state_since)
        .where(p.c.id.in_(ids.scalar_subquery()))
        .order_by(*order)
    )


def _hypothesis_slugs() -> sa.Select[Any]:
    """The distinct hypotheses of the prospects as a loose index scan: the next slug after the last
    one, one index probe each (a recursive CTE both SQLite and Postgres run), instead of DISTINCT
    over every row of the table."""
    slug = t.prospects.c.hypothesis_slug
    slugs = sa.select(sa.func.min(slug).label("slug")).cte("slugs", recursive=True)
    following = sa.select(sa.func.min(slug)).where(slug > slugs.c.slug).scalar_subquery()
    slugs = slugs.union_all(sa.select(following).where(slugs.c.slug.is_not(None)))
    return sa.select(slugs.c.slug).where(slugs.c.slug.is_not(None))


def inputs(store: Store, days: int = 7) -> dict[str, Any]:
    """Where the last ``days`` of inputs went, as ``gtm status`` shows it (counts, reasons and the
    operator's own file names only), each reason a prospect left for with the state it is in now."""
    shown = inputs_status(store, days)
    shown["left"] = [
        {"why": why, "count": n, "state": state.value if (state := LEFT_IN_STATE.get(why)) else None}
        for why, n in shown["left_the_funnel"].items()
    ]
    shown["empty"] = not (
        shown["imports"]
        or shown["fetch_refused"]
        or shown["fetch_off"]
        or shown["left_the_funnel"]
        or shown["discovery"]
    )
    return shown


def _sources(store: Store, prospect_id: str) -> dict[str, ArtifactRecord]:
    return review_queue.sources(store, prospect_id)


def _parsed(artifact: ArtifactRecord | None, model: type[Any]) -> SkillResult[Any] | None:
    return review_queue.parsed(artifact, model)


def _evidence(result: SkillResult[Any] | None, sources: dict[str, ArtifactRecord]) -> list[dict[str, Any]]:
    """A result's evidence, each quote once (see :func:`review_queue.deduplicated`)."""
    return review_queue.deduplicated([("result", result)], sources)


def review_items(store: Store, limit: int = 50) -> list[dict[str, Any]]:
    """Pending review items as cards (draft, profile, evidence once, why it is here): the review
    queue's read model lives in :mod:`gtm_pipeline.console.review_queue`."""
    return review_queue.cards(store, limit=limit)


# What each kind of dead letter means, in words (the kind is the rule the output failed).
DEAD_LETTER_RULES = {
    "invalid_json": "The output must be JSON: the model's answer could not be parsed.",
    "contract": "It must match the skill's output contract: a field was missing or of the wrong type.",
    "evidence": "Every claim must quote a source it was given: a quote was not found in its cited source.",
    "provider_error": "A provider must answer: every provider of the group failed or refused the call.",
    "policy": "The output must keep to the group's output policy: it did not.",
}


def dead_letters(store: Store) -> list[dict[str, Any]]:
    """Open dead letters, newest first, each with its prospect's company, the rule its output failed
    (in words) and each problem found, one per line."""
    d, p = t.dead_letters, t.prospects
    query = (
        sa.select(d, p.c.company_name, p.c.company_domain, p.c.state.label("prospect_state"))
        .select_from(d.outerjoin(p, p.c.id == d.c.prospect_id))
        .where(d.c.resolved_at.is_(None))
        .order_by(d.c.id.desc())
        .limit(200)
    )
    with store.reading() as c:
        rows = [dict(r._mapping) for r in c.execute(query)]
    for row in rows:
        kind = str(row["reason_kind"])
        row["rule"] = DEAD_LETTER_RULES.get(kind, f"The output failed the {kind.replace('_', ' ')} check.")
        row["problems"] = [part.strip() for part in str(row["reason"] or "").split("; ") if part.strip()]
    return rows


def timeline(store: Store, prospect_id: str) -> dict[str, Any] | None:
    """Everything about one prospect: its story in order (console/timeline.py), the profile's
    evidence and sources, why it is here, and why it is unreachable when it is."""
    prospect = store.prospects.get(prospect_id)
    if prospect is None:
        return None
    entries = store.journal.entries(prospect_id)
    told = story(store, prospect_id, entries)
    assert told is not None
    sources = _sources(store, prospect_id)
    profile = _parsed(store.artifacts.latest(prospect_id, "profile"), ProfileFinding)
    pack = store.artifacts.latest(prospect_id, "context_pack")
    return {
        "prospect": prospect,
        "story": told,
        "sources": list(sources.values()),
        "profile": profile,
        "profile_evidence": _evidence(profile, sources),
        "why": why_here(store, prospect_id, entries),
        "context_pack": _parsed(pack, ContextPackFinding),
        "unreachable": _unreachable(store, prospect_id, list(reversed(entries)))
        if prospect.state is State.UNREACHABLE
        else None,
    }


# Why a contact the pipeline holds is not the addressee of a first touch (its flags, no PII).
CONTACT_FLAGS = {
    "role": "a role address (read by whoever is on duty), never the addressee",
    "free_mail": "a free-mail address (a private mailbox), never written to about business",
    "unverified": "the export marked the address unverified",
    "undeliverable": "the address's domain takes no mail",
}


def _unreachable(store: Store, prospect_id: str, journal: list[Any]) -> dict[str, Any] | None:
    """Why a prospect in ``unreachable`` has nobody to write to: the verdict's journal entry and each
    contact considered with why it is not usable (None when it is unreachable for another reason)."""
    verdict = next((e for e in journal if e.payload.get("event") == Event.NO_REACHABLE_CONTACT.value), None)
    if verdict is None:
        return None
    return {
        "entry": verdict,
        "contacts": [
            {"contact": c, "why_not": contact_unusable_because(store, c)}
            for c in store.contacts.of(prospect_id)
        ],
    }


def contact_unusable_because(store: Store, contact: ContactRecord) -> str:
    """Why ``contact`` is not a first touch's addressee, in words (its flags, a missing address, an
    erasure or a suppression)."""
    if contact.tombstoned:
        return "erased"
    if contact.email is None:
        return "no address: none was imported or published for this person"
    reasons = [CONTACT_FLAGS.get(flag, flag) for flag in contact.flags]
    if contact.email_hash and store.privacy.suppression_reason(contact.email_hash) is not None:
        reasons.append("the address is suppressed")
    return "; ".join(reasons) or "usable now (found after the verdict): reopen the prospect to write to them"


RIGHTS_ANSWERED = "rights_request_answered"  # journaled by the console: who answered a request, and how
# The erasure report's counts, in words (a key not listed is shown with its underscores as spaces).
ERASED_WORDS = {
    "contacts": ("contact record", "contact records"),
    "journal_entries": ("journal entry", "journal entries"),
    "artifacts": ("stored document (source, profile, draft)", "stored documents (sources, profiles, drafts)"),
    "dead_letters": ("dead letter", "dead letters"),
    "outbox": ("email sent or scheduled", "emails sent or scheduled"),
    "inbox": ("inbound message", "inbound messages"),
    "source_answers": ("cached discovery answer", "cached discovery answers"),
    "cached_pages": ("cached web page", "cached web pages"),
    "journal_quoting_person": ("other journal entry quoting them", "other journal entries quoting them"),
}
_ERASED = re.compile(r"^erased (\d+) prospect\(s\): (\{.*\})$", re.S)
_EXPORTED = re.compile(r"^exported (\d+) prospect\(s\)$")
_BY = re.compile(r"^(.*) \(((?:operator|rehearsal)[^()]*)\)$", re.S)


def rights(store: Store, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Rights requests by due date, each with its state and outcome in words: what was erased or
    exported, when, by whom, and how its answer stood against the due date (or how overdue it is)."""
    now = now or store.now()
    requests = store.privacy.rights_requests()
    answered, erased = _rights_journal(store, requests)
    for r in requests:
        r["overdue"] = r["status"] == "open" and r["due_at"] < now
        r["due_words"] = _due_words(r, now)
        words, by = _outcome_words(r, erased.get(int(r["id"]), []))
        who = answered.get(int(r["id"]))
        r["outcome_words"] = words
        r["answered_by"] = who or by
        prospect = store.prospects.get(str(r["prospect_id"])) if r["prospect_id"] else None
        r["company"] = prospect.company_name if prospect else None  # a company, not a person
    return requests


def _rights_journal(
    store: Store, requests: list[dict[str, Any]]
) -> tuple[dict[int, str], dict[int, list[tuple[str, str]]]]:
    """Who answered each request (the console's journal entry), and each request's erasures:
    (prospect id, reason) from the erasure entries, which keep the request's number. Read by
    subject (the journal's index), never by scanning every entry for a kind."""
    j = t.journal
    subjects = {f"rights_request:{r['id']}" for r in requests}
    subjects |= {str(r["prospect_id"]) for r in requests if r["prospect_id"]}
    query = sa.select(j.c.kind, j.c.subject, j.c.actor, j.c.payload).where(
        j.c.subject.in_(sorted(subjects)), j.c.kind.in_([RIGHTS_ANSWERED, "erasure"])
    )
    answered: dict[int, str] = {}
    erased: dict[int, list[tuple[str, str]]] = {}
    with store.reading() as c:
        for kind, subject, actor, payload in c.execute(query):
            request_id = (payload or {}).get("request_id")
            if request_id is None:
                continue
            if kind == RIGHTS_ANSWERED:
                answered[int(request_id)] = str(actor)
            else:
                erased.setdefault(int(request_id), []).append(
                    (str(subject), str(payload.get("reason") or ""))
                )
    return answered, erased


def _due_words(r: dict[str, Any], now: dt.datetime) -> str:
    due, done = r["due_at"], r.get("completed_at")
    if r["status"] != "open" and done is not None:
        days = (due - done).days
        if done <= due:
            return f"answered {_days(days)} before the due date" if days else "answered on the due date"
        return f"answered {_days((done - due).days)} late"
    if due < now:
        return f"overdue by {_days(max(1, (now - due).days))}"
    left = (due - now).days
    return f"due in {_days(left)}" if left else "due today"


def _days(n: int) -> str:
    return f"{n} day{'' if n == 1 else 's'}"


def _outcome_words(r: dict[str, Any], erasures: list[tuple[str, str]]) -> tuple[list[str], str | None]:
    """The stored outcome (free text written by the erasure, the export or the operator) in words,
    and who it names, if anyone. A text this does not know is shown as written, never dropped."""
    text = str(r.get("outcome") or "").strip()
    if not text:
        return [], None
    by = None
    if found := _BY.match(text):
        text, by = found.group(1).strip(), found.group(2)
    for _subject, reason in erasures:
        if by is None and (named := _BY.match(reason)):
            by = named.group(2)
    if erase := _ERASED.match(text):
        n = int(erase.group(1))
        try:
            counts = ast.literal_eval(erase.group(2))
        except (ValueError, SyntaxError):
            counts = None
        ids = ", ".join(sorted({subject for subject, _ in erasures}))
        words = [
            f"Erased {n} prospect{'' if n == 1 else 's'}{f' ({ids})' if ids else ''}: personal data "
            "tombstoned, the identity suppressed for good, the audit trail kept."
        ]
        if isinstance(counts, dict):
            removed = [
                _counted(str(k), int(v)) for k, v in sorted(counts.items()) if isinstance(v, int) and v
            ]
            words.append("Removed: " + ", ".join(removed) + "." if removed else "Nothing else was held.")
        else:
            words.append(f"Counts as recorded: {erase.group(2)}")
        return words, by
    if export := _EXPORTED.match(text):
        n = int(export.group(1))
        return [
            f"Exported what is held on {n} prospect{'' if n == 1 else 's'} (records, replies, emails sent, "
            "where they are named) as a JSON download for the requester."
        ], by
    return [text], by


def _counted(key: str, n: int) -> str:
    one, many = ERASED_WORDS.get(key, (key.replace("_", " "), key.replace("_", " ")))
    return f"{n} {one if n == 1 else many}"


def funnel(store: Store) -> dict[str, list[tuple[str, int]]]:
    """Per hypothesis: how many prospects ever reached each stage, discovered to won (from the
    journal, computed with DuckDB: see :mod:`gtm_pipeline.funnel`)."""
    return {row.key: [(s.name, s.count) for s in row.stages] for row in funnels(store)}


def funnels(store: Store, by: Dimension = "hypothesis", *, hypothesis: str | None = None) -> list[FunnelRow]:
    """Each group's funnel with the rate between stages and its 95 % interval (recomputed only when
    the journal has moved: see :mod:`gtm_pipeline.funnel.cache`)."""
    return cached_funnel(store).rows(by, hypothesis=hypothesis)


@dataclass
class HypothesisFunnel:
    """What the hypothesis page shows: its funnel, and which signal kinds led to meetings."""

    slug: str
    total: FunnelRow
    by_signal: list[FunnelRow]
    by_skill: list[FunnelRow]


def hypothesis_funnel(store: Store, slug: str) -> HypothesisFunnel:
    """One hypothesis' funnel, then the same prospects by strongest signal kind (meetings per
    prospect written to, best first) and by drafting skill version: one snapshot for all three."""
    data = cached_funnel(store)
    total = data.total(hypothesis=slug)
    by_signal = data.rows("signal", hypothesis=slug)
    by_skill = data.rows("skill", hypothesis=slug)
    by_signal.sort(key=lambda r: (-(r.meeting_rate.value or -1.0), -r.count("sent"), r.key))
    return HypothesisFunnel(slug, total, by_signal, by_skill)


def weekly_rates(store: Store, weeks: int = 12, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Sends, replies and positive replies per ISO week; auto-replies and bounces are not replies.

    Every week of the range is listed, a week without sends as zeros, so the chart is a line over
    weeks (not a dot per week that happened to have mail). The range is the ``weeks`` weeks ending
    with the later of this week and the last week with a send or a reply."""
    event = t.journal.c.payload["event"].as_string()
    category = t.journal.c.payload["category"].as_string()
    counted = (
        t.journal.c.kind == "transition",
        event.in_(["sent", "reply_received", "not_now_reply", "not_a_fit_reply", "unsubscribed"]),
    )
    with store.reading() as c:
        last = c.execute(sa.select(sa.func.max(t.journal.c.created_at)).where(*counted)).scalar()
        if last is None:
            return []
        end = _monday(max(_aware(last), now or store.now()))
        start = end - dt.timedelta(weeks=weeks - 1)
        since = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
        query = sa.select(t.journal.c.created_at, event, category).where(
            *counted, t.journal.c.created_at >= since
        )
        rows: dict[dt.date, dict[str, int]] = {
            start + dt.timedelta(weeks=i): {"sent": 0, "replies": 0, "positive": 0} for i in range(weeks)
        }
        for created, name, cat in c.execute(query):
            bucket = rows.get(_monday(_aware(created)))
            if bucket is None:  # later than the range's end: cannot happen with end >= last
                continue
            if name == "sent":
                bucket["sent"] += 1
            elif name != "unsubscribed" or cat:
                bucket["replies"] += 1
                bucket["positive"] += int(cat in ("interested", "question", "referral"))
    result = []
    for monday in sorted(rows):
        b = rows[monday]
        sent = b["sent"]
        year, week, _ = monday.isocalendar()
        result.append(
            {
                "week": f"{year}-W{week:02d}",
                "monday": monday,
                **b,
                "reply_rate": b["replies"] / sent if sent else 0.0,
                "positive_rate": b["positive"] / sent if sent else 0.0,
            }
        )
    return result


def _aware(moment: dt.datetime) -> dt.datetime:
    """A stored time as UTC (SQLite hands back naive datetimes)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _monday(moment: dt.datetime) -> dt.date:
    """The Monday (UTC) of the ISO week ``moment`` falls in."""
    day = moment.astimezone(dt.UTC).date()
    return day - dt.timedelta(days=day.weekday())
