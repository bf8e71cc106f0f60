"""The funnel to the money, computed with DuckDB over a snapshot of the store.

Stages, per prospect, from its journal:

    discovered  registered (by discovery or an import)
    qualified   research qualified it
    sent        a first touch went out
    replied     a person wrote back (any category but bounces, auto-replies and out-of-office)
    positive    a reply classified interested, a question or a referral
    meeting     a meeting was booked and not cancelled (a cancelled booking that was booked again
                counts; held, no-show and a deal move forward, so they keep it)
    won         a deal was won

Replies count whether the transition table took them or not (a second, interested answer to a
prospect already in ``replied`` is refused as a transition and is still a positive reply). After an
erasure a journal entry keeps its event and states but not the reply's category: the reply still
counts (from its event), and the stages after it still imply a positive one.

A later stage implies the earlier ones (a booking made from the link without a classified reply
still counts as a positive reply), so each stage is a subset of the one before and the rate between
two stages is a plain binomial share, with its Wilson interval (:mod:`gtm_pipeline.funnel.stats`).

Prospects are grouped by one of:

    hypothesis  the hypothesis that found them;
    skill       the drafting skill version (``skill@version``) of the first touch that was sent, else of
                the latest draft (drafted, not sent yet), else ``no draft``;
    signal      the kind of discovery's strongest signal (the "qualified by" line of the review card:
                the highest contribution, the earliest on a tie), else the discovery skill's own signal
                type, else ``none`` (an imported company with no discovery signal).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb

from gtm_pipeline.domain.states import Event, State
from gtm_pipeline.funnel.snapshot import Snapshot, take
from gtm_pipeline.funnel.stats import Rate
from gtm_pipeline.store import Store

Dimension = Literal["hypothesis", "skill", "signal"]
DIMENSIONS: tuple[Dimension, ...] = ("hypothesis", "skill", "signal")
STAGES: tuple[str, ...] = ("discovered", "qualified", "sent", "replied", "positive", "meeting", "won")
# What a person wrote back (the classify-reply categories that are a reply: see charts' weekly rates).
REPLY_CATEGORIES: tuple[str, ...] = (
    "interested",
    "question",
    "referral",
    "other",
    "not_now",
    "not_a_fit",
    "unsubscribe",
)
POSITIVE_CATEGORIES: tuple[str, ...] = ("interested", "question", "referral")
# Events that only a person's reply causes: a reply even where an erasure removed the category.
REPLY_EVENTS: tuple[str, ...] = tuple(
    e.value for e in (Event.REPLY_RECEIVED, Event.NOT_NOW_REPLY, Event.NOT_A_FIT_REPLY)
)
# A booking that went back to a pre-meeting state was cancelled (held, no-show, won, lost go forward).
CANCELLED_TO: tuple[str, ...] = tuple(
    s.value for s in (State.REPLIED, State.AWAITING_REPLY, State.FOLLOW_UP_DUE, State.SENT)
)
NO_DRAFT = "no draft"
NO_SIGNAL = "none"


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


_REACH_SQL = f"""
CREATE TEMP TABLE reach AS
WITH marks AS (
    SELECT subject AS id,
        bool_or(kind = 'transition' AND event = 'qualified') AS qualified,
        bool_or(kind = 'transition' AND event = 'sent') AS sent,
        bool_or(event IN ({_quoted(REPLY_EVENTS)}) OR category IN ({_quoted(REPLY_CATEGORIES)})) AS replied,
        bool_or(category IN ({_quoted(POSITIVE_CATEGORIES)})) AS positive,
        count(*) FILTER (WHERE kind = 'transition' AND to_state = 'meeting_booked'
                         AND from_state IS DISTINCT FROM 'meeting_booked') AS booked,
        count(*) FILTER (WHERE kind = 'transition' AND from_state = 'meeting_booked'
                         AND to_state IN ({_quoted(CANCELLED_TO)})) AS cancelled,
        bool_or(kind = 'transition' AND to_state = 'won') AS won
    FROM events GROUP BY subject
),
signals AS (
    SELECT subject AS id,
        first(s.kind ORDER BY coalesce(s.contribution, 0) DESC, s.date ASC) AS strongest
    FROM (
        SELECT subject, unnest(from_json(signals,
            '[{{"kind": "VARCHAR", "date": "VARCHAR", "contribution": "DOUBLE"}}]')) AS s
        FROM discoveries
    )
    WHERE s.kind IS NOT NULL
    GROUP BY subject
),
found AS (
    SELECT subject AS id, any_value(nullif(signal_type, '')) AS signal_type FROM discoveries GROUP BY subject
),
producers AS (
    SELECT artifact_id, prospect_id, created_at, skill || '@' || version AS producer FROM drafts
),
first_sent AS (
    SELECT t.prospect_id AS id, first(p.producer ORDER BY t.touch_number) AS producer
    FROM touches t JOIN producers p USING (artifact_id)
    WHERE t.sent AND p.producer IS NOT NULL
    GROUP BY t.prospect_id
),
latest_draft AS (
    SELECT prospect_id AS id, first(producer ORDER BY created_at DESC, artifact_id DESC) AS producer
    FROM producers WHERE producer IS NOT NULL GROUP BY prospect_id
),
flags AS (
    SELECT p.id, p.hypothesis,
        coalesce(fs.producer, ld.producer, '{NO_DRAFT}') AS skill,
        coalesce(sg.strongest, f.signal_type, '{NO_SIGNAL}') AS signal,
        coalesce(m.won, false) AS w,
        coalesce(m.booked, 0) > coalesce(m.cancelled, 0) AS b,
        coalesce(m.positive, false) AS pos,
        coalesce(m.replied, false) AS r,
        coalesce(m.sent, false) AS s,
        coalesce(m.qualified, false) AS q
    FROM prospects p
    LEFT JOIN marks m USING (id)
    LEFT JOIN signals sg USING (id)
    LEFT JOIN found f USING (id)
    LEFT JOIN first_sent fs USING (id)
    LEFT JOIN latest_draft ld USING (id)
)
SELECT id, hypothesis, skill, signal,
    w AS won,
    w OR b AS meeting,
    w OR b OR pos AS positive,
    w OR b OR pos OR r AS replied,
    w OR b OR pos OR r OR s AS sent,
    w OR b OR pos OR r OR s OR q AS qualified
FROM flags
"""

_GROUP_SQL = """
SELECT {key} AS key,
    count(*) AS discovered,
    count(*) FILTER (WHERE qualified) AS qualified,
    count(*) FILTER (WHERE sent) AS sent,
    count(*) FILTER (WHERE replied) AS replied,
    count(*) FILTER (WHERE positive) AS positive,
    count(*) FILTER (WHERE meeting) AS meeting,
    count(*) FILTER (WHERE won) AS won
FROM reach
{where}
GROUP BY ALL
ORDER BY key
"""


@dataclass(frozen=True)
class Stage:
    """One stage of one group: how many reached it, and the share of the stage before that did."""

    name: str
    count: int
    rate: Rate | None  # from the stage before (None for the first stage)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.name,
            "count": self.count,
            "from_previous": self.rate.as_dict() if self.rate else None,
        }


@dataclass(frozen=True)
class FunnelRow:
    """The funnel of one group (a hypothesis, a skill version, a signal kind, or everything)."""

    key: str
    stages: list[Stage] = field(default_factory=list)

    def count(self, stage: str) -> int:
        return next(s.count for s in self.stages if s.name == stage)

    def share(self, stage: str, of: str) -> Rate:
        """The share of those who reached ``of`` that went on to reach ``stage``."""
        return Rate(self.count(stage), self.count(of))

    @property
    def meeting_rate(self) -> Rate:
        """Meetings per prospect written to: what a signal or a hypothesis is worth in meetings."""
        return self.share("meeting", "sent")

    @property
    def win_rate(self) -> Rate:
        return self.share("won", "sent")

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "stages": [s.as_dict() for s in self.stages],
            "meetings_per_sent": self.meeting_rate.as_dict(),
            "wins_per_sent": self.win_rate.as_dict(),
        }


def funnel_row(key: str, counts: dict[str, int]) -> FunnelRow:
    """Counts per stage to a row with the rate between each stage and the one before it."""
    stages, previous = [], None
    for name in STAGES:
        n = int(counts.get(name, 0))
        stages.append(Stage(name, n, None if previous is None else Rate(n, previous)))
        previous = n
    return FunnelRow(key, stages)


class FunnelData:
    """A snapshot of the store in DuckDB with every prospect's furthest stage: group it any way."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.con = duckdb.connect()
        # one DuckDB connection is not for concurrent use: the console's requests take turns
        self._lock = threading.Lock()
        for name, frame in snapshot.frames().items():
            self.con.register(name, frame)
        self.con.execute(_REACH_SQL)

    def close(self) -> None:
        with self._lock:
            self.con.close()

    def _fetch(self, sql: str, params: list[Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self._lock:
            result = self.con.execute(sql, params)
            return [d[0] for d in result.description], result.fetchall()

    def rows(self, by: Dimension, *, hypothesis: str | None = None) -> list[FunnelRow]:
        """One funnel per value of ``by`` (only ``hypothesis``'s prospects when given)."""
        if by not in DIMENSIONS:
            raise ValueError(f"by must be one of {', '.join(DIMENSIONS)}, not {by!r}")
        where, params = ("WHERE hypothesis = ?", [hypothesis]) if hypothesis is not None else ("", [])
        columns, rows = self._fetch(_GROUP_SQL.format(key=by, where=where), params)
        return [
            funnel_row(str(values[0]), dict(zip(columns[1:], values[1:], strict=True))) for values in rows
        ]

    def total(self, *, hypothesis: str | None = None) -> FunnelRow:
        """Every prospect (of ``hypothesis`` when given) as one funnel."""
        where, params = ("WHERE hypothesis = ?", [hypothesis]) if hypothesis is not None else ("", [])
        sql = _GROUP_SQL.format(key="'all'", where=where).replace("GROUP BY ALL", "")
        columns, (values,) = self._fetch(sql, params)
        return funnel_row("all", dict(zip(columns[1:], values[1:], strict=True)))

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """A read over ``reach`` and the snapshot's frames (the outcome records use it)."""
        return self._fetch(sql, params or [])[1]


@contextmanager
def funnel_data(store: Store) -> Iterator[FunnelData]:
    """The store's funnel, ready to group (the DuckDB connection is closed afterwards)."""
    data = FunnelData(take(store))
    try:
        yield data
    finally:
        data.close()
