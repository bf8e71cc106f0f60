"""The driver's fast path: the receiver's per-event statements on SQLite's own connection.

The webhook receiver runs a correlation read (the outbox) and an insert (the inbox) for every event.
Through SQLAlchemy Core each costs 15-25 us of Python, through the driver 2-5 us; the values are
converted by the very processors SQLAlchemy uses for those columns, so a row reads back the same
whichever path wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gtm_pipeline.store import schema as t

# The inbox columns an event insert writes, in the order of its statements' parameters.
EVENT_COLUMNS = (
    "event_key",
    "event_type",
    "payload",
    "prospect_id",
    "touch_id",
    "provider_email_id",
    "raw_message",
    "status",
    "received_at",
)


def sqlite_driver(c: sa.Connection) -> Any | None:
    """SQLite's own connection under ``c`` (same transaction), for the receiver's per-event
    statements, or None to run them through SQLAlchemy.

    The receiver runs a correlation read and an insert for every event; through SQLAlchemy Core
    (even with the statements built once) each costs 15-25 us of Python, through the driver 2-5 us,
    which is most of what separates the receiver from a bare one. The values are converted by the
    very processors SQLAlchemy uses for these columns (:class:`Processors`), so a row reads back
    the same whichever path wrote it. A listener on SQLAlchemy's statement events (tracing, a
    test's injected fault) on the engine must see every statement: with one attached, the path is
    SQLAlchemy's. Postgres stays on SQLAlchemy (its round trips, not Python, are its cost)."""
    events = c.engine.dispatch  # the engine's own (a connection's joined dispatch costs 2 us to ask)
    if c.dialect.name != "sqlite" or events.before_cursor_execute or events.after_cursor_execute:
        return None
    return c.connection.driver_connection


class Processors:
    """SQLAlchemy's own value conversions for the columns the driver path writes and reads."""

    def __init__(self, dialect: sa.Dialect) -> None:
        def bind(column: sa.Column[Any]) -> Any:
            return column.type.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)

        def result(column: sa.Column[Any]) -> Any:
            return column.type.dialect_impl(dialect).result_processor(dialect, None) or (lambda v: v)

        self.event = tuple(bind(t.inbox.c[name]) for name in EVENT_COLUMNS)
        self.outbox = tuple(result(column) for column in t.outbox.columns)


_PROCESSORS: dict[str, Processors] = {}


def processors(dialect: sa.Dialect) -> Processors:
    found = _PROCESSORS.get(dialect.name)
    if found is None:
        found = _PROCESSORS[dialect.name] = Processors(dialect)
    return found


@dataclass(frozen=True)
class Mapped:
    """What :func:`record` reads of a row (its ``_mapping``), for a driver row."""

    _mapping: dict[str, Any]
