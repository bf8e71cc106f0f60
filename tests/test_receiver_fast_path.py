"""The receiver's fast path keeps every guarantee of the slow one.

``gtm serve`` hands a webhook to the receiver's endpoint ahead of FastAPI's routing and middleware,
commits SQLite batches on the event loop when the write lock is free at once, and runs the
per-event correlation read and insert through SQLite's own driver. Here: the driver path reads and
writes exactly what SQLAlchemy's does; the loop never waits for a lock another process holds (the
batch goes to the writer thread and is stored once the lock is free); the dispatcher still serves
every other route, a router included later among them, and answers a wrong method as the route did.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.testclient import TestClient

from gtm_pipeline.app import receiver_app
from gtm_pipeline.outreach.batch_writer import BatchWriter
from gtm_pipeline.store import Store
from tests.conftest import TEST_START
from tests.receiver_kit import SECRET, SETTINGS, TOUCH, fresh_store, signed, template_store

DELIVERED = {
    "type": "email.delivered",
    "created_at": "2026-11-23T10:05:00Z",
    "data": {"email_id": "em_known", "to": ["dana@acme.example"], "tags": {}},
}


def _add(store: Store, c: sa.Connection, key: str) -> tuple[int, bool]:
    return store.inbox.add_event_in(
        c,
        event_key=key,
        event_type="email.delivered",
        payload={"type": "email.delivered", "data": {"to": ["é@x.example"]}},
        prospect_id=TOUCH.prospect_id,
        touch_id=TOUCH.touch_id,
        provider_email_id="em_known",
        at=TEST_START,
    )


def test_the_driver_path_reads_and_writes_what_sqlalchemy_does(tmp_path: Path) -> None:
    store = fresh_store(template_store(tmp_path), "driver")
    with store.writing() as c:  # nothing listens to statement events: the driver path
        assert store.ledger.touch(TOUCH.touch_id, c) == TOUCH
        assert store.ledger.touch_by_provider_id("em_known", c) == TOUCH
        assert store.ledger.touch_by_message_id(TOUCH.message_id, c) == TOUCH
        assert store.ledger.touch_by_provider_id("em_other", c) is None
        fast = _add(store, c, "svix:fast")
        assert _add(store, c, "svix:fast") == (fast[0], False)
    seen: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    with store.writing() as c:  # a listener attached: SQLAlchemy's path, and it sees the statements
        assert store.ledger.touch(TOUCH.touch_id, c) == TOUCH
        slow = _add(store, c, "svix:slow")
    assert any("INSERT INTO inbox" in statement for statement in seen)
    rows = {row.event_key: row for row in store.inbox.events(TOUCH.prospect_id)}
    assert fast[1] and slow[1] and rows["svix:fast"].id == fast[0]
    first, second = rows["svix:fast"], rows["svix:slow"]
    assert (first.payload, first.received_at, first.status) == (second.payload, second.received_at, "new")
    assert first.received_at == TEST_START
    store.close()


def test_the_loop_never_waits_for_a_lock_another_process_holds(gtm_home: Path) -> None:
    path = gtm_home / "locked.sqlite"
    store = Store.open(f"sqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None)  # another process's writer, as SQLite sees it
    other.execute("BEGIN IMMEDIATE")

    async def write_while_locked() -> tuple[float, tuple[int, bool]]:
        writer = BatchWriter(store)
        pending = asyncio.ensure_future(writer.write(lambda c: _add(store, c, "svix:waited")))
        started = time.monotonic()
        await asyncio.sleep(0.3)  # the loop keeps turning while the write waits
        turned = time.monotonic() - started
        assert not pending.done()
        other.execute("COMMIT")
        return turned, await asyncio.wait_for(pending, 30)

    turned, (_, new) = asyncio.run(write_while_locked())
    assert turned < 0.3 + 1.0 and new
    assert [row.event_key for row in store.inbox.events(TOUCH.prospect_id)] == ["svix:waited"]
    other.close()
    store.close()


def test_gtm_serve_dispatches_webhooks_first_and_every_other_route_as_before(tmp_path: Path) -> None:
    store = fresh_store(template_store(tmp_path), "dispatch")
    app = receiver_app(store, SETTINGS, SECRET, None)
    extra = APIRouter()

    @extra.get("/extra")
    def extra_route() -> dict[str, str]:
        return {"extra": "yes"}

    app.include_router(extra)  # a router mounted later (another receiver, say) still answers
    with TestClient(app) as client:
        raw, headers = signed(DELIVERED, "msg_fast")
        first = client.post("/webhooks/resend", content=raw, headers=headers)
        again = client.post("/webhooks/resend", content=raw, headers=headers)
        forged = client.post("/webhooks/resend", content=raw, headers={**headers, "svix-id": "msg_other"})
        wrong_method = client.get("/webhooks/resend")
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/extra").json() == {"extra": "yes"}
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    assert first.json() == {"stored": True, "event_id": first.json()["event_id"], "suppressed": None}
    assert again.status_code == 200 and again.json()["stored"] is False
    assert again.json()["event_id"] == first.json()["event_id"]
    assert forged.status_code == 400 and forged.json()["error"].startswith("rejected")
    assert wrong_method.status_code == 405
    [row] = store.inbox.events(TOUCH.prospect_id)  # correlated by the provider's email id
    assert row.event_key == "svix:msg_fast" and row.touch_id == TOUCH.touch_id
    store.close()


def test_an_unforeseen_failure_on_the_loop_answers_every_waiting_write_and_the_next_batch_works(
    tmp_path: Path,
) -> None:
    """Found in review: an error outside the expected ones must not leave requests waiting forever."""
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
    writer = BatchWriter(store)
    calls = {"n": 0}
    real = writer._commit_inline

    def broken_once(batch: list[Any]) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("unforeseen")
        real(batch)

    writer._commit_inline = broken_once  # type: ignore[method-assign]

    async def both() -> tuple[list[Any], int]:
        first = await asyncio.gather(*(writer.write(lambda c: 1) for _ in range(3)), return_exceptions=True)
        second = await writer.write(lambda c: c.execute(sa.text("SELECT 7")).scalar_one())
        return first, second

    try:
        first, second = asyncio.run(asyncio.wait_for(both(), timeout=30))
    finally:
        store.close()
    assert [type(r) for r in first] == [RuntimeError] * 3
    assert second == 7
