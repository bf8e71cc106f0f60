"""Claims: how two passes at once (a schedule tick overlapping a CLI command, two daemons) never act
on the same row of the outbox or the inbox.

A pass first *claims* a row (``pending`` -> ``sending``, ``new`` -> ``processing``) with one
conditional UPDATE and acts only when that UPDATE changed the row; every later status write is
compare-and-set on the status it expects. A claim whose process died is taken over after
:data:`CLAIM_LEASE`.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets

import sqlalchemy as sa

# Longer than the longest send (the SDK's 30 s timeout, five attempts, waits of up to 30 s) or
# reply classification: a claim this old belongs to a process that died, and is taken over.
CLAIM_LEASE = dt.timedelta(minutes=15)


def claimer() -> str:
    """A new name for one pass's claims: the process (so a claim left behind says whose it was)
    and a random part (two passes in one process never share one)."""
    return f"pid{os.getpid()}-{secrets.token_hex(6)}"


def claimable(
    table: sa.Table, free: str | tuple[str, ...], held: str, cutoff: dt.datetime
) -> sa.ColumnElement[bool]:
    """A row free to claim (its status ``free``, or one of them), or held by a claim older than the
    lease (its process died)."""
    is_free = table.c.status.in_(free) if isinstance(free, tuple) else table.c.status == free
    return sa.or_(is_free, sa.and_(table.c.status == held, table.c.claimed_at < cutoff))
