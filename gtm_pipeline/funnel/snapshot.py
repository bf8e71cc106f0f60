"""A read-only snapshot of what the funnel needs, taken from the store into DataFrames.

DuckDB cannot attach the store itself here: its SQLite and Postgres scanners are extensions
downloaded on first use, and the product runs offline. So the store (SQLite or Postgres, through
SQLAlchemy as everywhere else) hands over only the few columns the funnel reads, with the JSON
fields extracted by the database (``json_extract`` / ``->>``, in C), and DuckDB does the grouping.
Nothing is written back. Only ids, states, categories, kinds and skill names leave the store:
no names, addresses or quotes (a signal's quote stays in the database; only its kind, date and
weight come out).

The frames, one row each per:

- ``prospects``    prospect: id, hypothesis;
- ``events``       journaled state change that can mark a stage (qualified, sent, a reply, a
                   meeting, a deal; rejected ones too, for replies): event, states, category;
- ``discoveries``  discovery verdict: its signals (kind, date, contribution) as JSON text and the
                   discovery skill's own signal type;
- ``drafts``       draft artifact: who produced it (skill, version, group) and when;
- ``touches``      email of the send ledger: which draft it carried, and whether the provider took
                   it (``sent_at``; an erasure keeps the row and this, and removes the rest).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa

from gtm_pipeline.domain.states import Event, State
from gtm_pipeline.store import Store
from gtm_pipeline.store import schema as t

# Events whose journal entries can mark a stage; everything else (research started, drafts,
# delivery, rules) is left in the store.
STAGE_EVENTS: tuple[str, ...] = tuple(
    e.value
    for e in (
        Event.QUALIFIED,
        Event.SENT,
        Event.REPLY_RECEIVED,
        Event.NOT_NOW_REPLY,
        Event.NOT_A_FIT_REPLY,
        Event.UNSUBSCRIBED,
        Event.MEETING_BOOKED,
        Event.DEAL_WON,
        Event.DEAL_LOST,
    )
)
# A booking moved on (held, no-show, cancelled) or a deal closed: any move into or out of these.
MEETING_STATES: tuple[str, ...] = (State.MEETING_BOOKED.value, State.WON.value, State.LOST.value)


@dataclass
class Snapshot:
    """The funnel's input, read in one transaction (so the frames agree with each other)."""

    prospects: pd.DataFrame
    events: pd.DataFrame
    discoveries: pd.DataFrame
    drafts: pd.DataFrame
    touches: pd.DataFrame

    def frames(self) -> dict[str, pd.DataFrame]:
        return {
            "prospects": self.prospects,
            "events": self.events,
            "discoveries": self.discoveries,
            "drafts": self.drafts,
            "touches": self.touches,
        }


def _frame(c: sa.Connection, query: sa.Select[Any], columns: Sequence[str]) -> pd.DataFrame:
    """Rows as a DataFrame (every column named, even when empty). SQLAlchemy builds and runs the
    statement on either backend; the rows are taken from the driver's cursor as plain tuples,
    since building 100,000s of ``Row`` objects cost as much as the query (every value here is a
    string, a number, a boolean or a time, which the frame types below normalise)."""
    result = c.execute(query)
    try:
        rows = result.cursor.fetchall() if result.cursor is not None else []
    finally:
        result.close()
    return pd.DataFrame.from_records(rows, columns=list(columns))


def _text(column: Any) -> sa.ColumnElement[str]:
    """A JSON field as text, extracted by the database."""
    return sa.cast(column, sa.Text)


def take(store: Store) -> Snapshot:
    """Read the snapshot: one pass over the journal (its stage events and discovery verdicts
    together: the journal is the biggest table, so it is read once) and one query per small table."""
    j = t.journal
    payload = j.c.payload
    event = payload["event"].as_string()
    from_state = payload["from_state"].as_string()
    to_state = payload["to_state"].as_string()
    discovered = j.c.kind == "discovered"
    journal = sa.select(
        j.c.subject,
        j.c.id,
        j.c.kind,
        event,
        from_state,
        to_state,
        payload["category"].as_string(),
        # only a discovery verdict's signals leave the database (the CASE keeps SQLite from
        # extracting them from the other rows)
        sa.case((discovered, _text(payload["signals"]))),
        sa.case((discovered, payload["signal_type"].as_string())),
    ).where(
        sa.or_(
            discovered,
            sa.and_(
                j.c.kind.in_(["transition", "transition_rejected"]),
                sa.or_(
                    event.in_(STAGE_EVENTS),
                    to_state.in_(MEETING_STATES),
                    from_state.in_(MEETING_STATES),
                ),
            ),
        )
    )
    a = t.artifacts
    drafts = sa.select(
        a.c.id,
        a.c.prospect_id,
        a.c.created_at,
        a.c.meta["skill"].as_string(),
        a.c.meta["skill_version"].as_string(),
        a.c.meta["group"].as_string(),
    ).where(a.c.kind == "draft")
    o = t.outbox
    touches = sa.select(
        o.c.touch_id, o.c.prospect_id, o.c.touch_number, o.c.artifact_id, o.c.sent_at.is_not(None)
    )
    columns = [
        *("subject", "row", "kind", "event", "from_state", "to_state", "category"),
        *("signals", "signal_type"),
    ]
    with store.reading() as c:
        rows = _frame(c, journal, columns)
        snapshot = Snapshot(
            prospects=_frame(
                c, sa.select(t.prospects.c.id, t.prospects.c.hypothesis_slug), ["id", "hypothesis"]
            ),
            events=rows.loc[rows["kind"] != "discovered", columns[:7]].reset_index(drop=True),
            discoveries=rows.loc[
                rows["kind"] == "discovered", ["subject", "signals", "signal_type"]
            ].reset_index(drop=True),
            drafts=_frame(
                c, drafts, ["artifact_id", "prospect_id", "created_at", "skill", "version", "group"]
            ),
            touches=_frame(c, touches, ["touch_id", "prospect_id", "touch_number", "artifact_id", "sent"]),
        )
    # Empty frames have no dtype to infer: give DuckDB typed columns either way.
    for frame in snapshot.frames().values():
        for column in frame.columns:
            if frame[column].dtype == object or frame.empty:
                if column == "sent":
                    frame[column] = frame[column].astype("boolean")
                elif column in ("row", "touch_number"):
                    frame[column] = frame[column].astype("Int64")
                elif column == "created_at":
                    frame[column] = pd.to_datetime(frame[column], utc=True)
                else:
                    frame[column] = frame[column].astype("string")
    return snapshot


def version(store: Store) -> tuple[int, int]:
    """A stamp that moves whenever the funnel's input may have changed: the journal's last row id
    (every state change, reply, erasure and draft hand-off appends one) and the number of touches
    in the send ledger. Two indexed reads: cheap enough to check on every page view."""
    with store.reading() as c:
        last = c.execute(sa.select(sa.func.max(t.journal.c.id))).scalar()
        touches = c.execute(sa.select(sa.func.count()).select_from(t.outbox)).scalar()
    return int(last or 0), int(touches or 0)
