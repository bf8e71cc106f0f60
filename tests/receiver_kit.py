"""What the receiver's tests share: a small store with one prospect and one sent touch, signed
Resend webhooks as Svix sends them, and a fault injected at the n-th write to the database."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI

from gtm_pipeline.domain.clock import ManualClock, SystemClock
from gtm_pipeline.domain.ids import email_hash
from gtm_pipeline.outreach.ingest import Fetch
from gtm_pipeline.outreach.receiver import create_receiver
from gtm_pipeline.outreach.settings import SendingSettings
from gtm_pipeline.store import NewProspect, Store
from gtm_pipeline.store.ledger import Touch
from gtm_pipeline.twins.resend_twin import sign
from tests.conftest import TEST_START

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
SETTINGS = SendingSettings(unsubscribe_secret=b"unsubscribe-key")
PID = "p_" + "a" * 20
ADDRESS = "dana@acme.example"
TOUCH = Touch(
    touch_id="t_" + "1" * 24,
    prospect_id=PID,
    touch_number=1,
    idempotency_key=f"gtm-touch/{PID}/1",
    message_id="<t_111@mail.example>",
    artifact_id="a_1",
    mailbox="hello@mail.example",
    sending_domain="mail.example",
    to_hash=email_hash(ADDRESS),
    payload={},
    status="sent",
    provider_email_id="em_known",
    attempts=1,
    created_at=TEST_START,
    sent_at=TEST_START,
)
_WRITES = ("INSERT", "UPDATE", "DELETE")


def template_store(folder: Path) -> Path:
    """A migrated store holding the prospect and its sent touch; copy it for each case (cheap)."""
    path = folder / "template.sqlite"
    store = Store.open(f"sqlite:///{path}", clock=ManualClock(TEST_START))
    store.prospects.add(
        NewProspect(PID, "h", "acme.example", "Acme", contact_email=ADDRESS), actor="test", payload={}
    )
    store.ledger.open_touch(TOUCH)
    store.close()
    return path


def fresh_store(template: Path, name: str) -> Store:
    copy = template.with_name(f"{name}.sqlite")
    shutil.copyfile(template, copy)
    return Store.open(f"sqlite:///{copy}", clock=ManualClock(TEST_START))


def receiver(store: Store, fetch: Fetch | None = None, **options: Any) -> FastAPI:
    app = FastAPI()
    app.include_router(create_receiver(store, SETTINGS, SECRET, fetch, **options))
    return app


def signed_headers(raw: str, msg_id: str, *, timestamp: int | None = None) -> dict[str, str]:
    """Svix's headers for ``raw``; timestamps are checked against the wall clock by the SDK."""
    ts = int(SystemClock().now().timestamp()) if timestamp is None else timestamp
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(ts),
        "svix-signature": sign(SECRET, msg_id, ts, raw),
        "content-type": "application/json",
    }


def signed(event: Any, msg_id: str) -> tuple[str, dict[str, str]]:
    raw = event if isinstance(event, str) else json.dumps(event)
    return raw, signed_headers(raw, msg_id)


@contextmanager
def failing_write(store: Store, at: int | None) -> Iterator[list[str]]:
    """Fail the ``at``-th (0-based) INSERT/UPDATE/DELETE sent to the store, as a full disk would;
    yields the write statements seen, so a test can count the writes on a path (``at=None``)."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb in _WRITES:
            seen.append(" ".join(statement.split()[:3]))
            if at is not None and len(seen) - 1 == at:
                raise sa.exc.OperationalError(statement, {}, Exception("injected: disk I/O error"))

    sa.event.listen(store.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", before)
