"""The receiver's writer commits waiting events together, and one bad event costs only itself."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gtm_pipeline.outreach.batch_writer import BatchWriter
from gtm_pipeline.outreach.write_lock import write_lock
from gtm_pipeline.store import Store


def _event(store: Store, key: str, seen: list[sa.Connection]) -> Any:
    def work(c: sa.Connection) -> tuple[int, bool]:
        seen.append(c)
        if key == "svix:bad":
            raise sa.exc.OperationalError("INSERT", {}, Exception("injected: disk I/O error"))
        return store.inbox.add_event_in(
            c,
            event_key=key,
            event_type="email.delivered",
            payload={"type": "email.delivered"},
            prospect_id=None,
            touch_id=None,
            provider_email_id=None,
        )

    return work


async def _write_while_locked(store: Store, keys: list[str], seen: list[sa.Connection]) -> list[Any]:
    """Hand every write over while the write lock is held elsewhere, so they all wait, then let go."""
    writer = BatchWriter(store)
    with write_lock(store):
        pending = [asyncio.ensure_future(writer.write(_event(store, key, seen))) for key in keys]
        await asyncio.sleep(0.3)  # the writer thread has taken the first and waits for the lock
    return await asyncio.gather(*pending, return_exceptions=True)


def test_waiting_events_commit_in_one_transaction_and_each_gets_its_own_answer(gtm_home: Path) -> None:
    store = Store.open(f"sqlite:///{gtm_home}/batch.sqlite")
    seen: list[sa.Connection] = []
    keys = [f"svix:{n}" for n in range(10)] + ["svix:3"]  # a repeat inside the batch
    commits: list[int] = []
    sa.event.listen(store.engine, "commit", lambda _conn: commits.append(1))
    answers = asyncio.run(_write_while_locked(store, keys, seen))
    assert len(seen) == 11 and len(commits) == 2  # the first alone, then the other ten in one transaction
    assert [new for _, new in answers] == [True] * 10 + [False]
    assert answers[3][0] == answers[10][0]
    assert len(store.inbox.outcomes()) == 10
    store.close()


def test_one_failing_event_in_a_batch_is_answered_alone_and_the_others_are_stored(gtm_home: Path) -> None:
    store = Store.open(f"sqlite:///{gtm_home}/batch.sqlite")
    seen: list[sa.Connection] = []
    keys = ["svix:first", "svix:a", "svix:bad", "svix:b", "svix:c"]
    answers = asyncio.run(_write_while_locked(store, keys, seen))
    failed = [key for key, answer in zip(keys, answers, strict=True) if isinstance(answer, BaseException)]
    assert failed == ["svix:bad"]
    assert isinstance(answers[2], sa.exc.OperationalError)
    stored = {row["event_type"] for row in store.inbox.outcomes()}
    assert len(store.inbox.outcomes()) == 4 and stored == {"email.delivered"}
    with store.reading() as c:
        keys_stored = set(c.execute(sa.text("SELECT event_key FROM inbox")).scalars())
    assert keys_stored == {"svix:first", "svix:a", "svix:b", "svix:c"}
    store.close()


def test_a_writer_that_cannot_connect_answers_the_waiting_writes_and_the_next_write_gets_a_new_one(
    gtm_home: Path, monkeypatch: Any
) -> None:
    """A connection refused (the database restarting) must not leave requests hanging: the waiting
    write is answered with the failure (a 5xx, which the provider retries) and the next write is
    stored by a new writer thread."""
    store = Store.open(f"sqlite:///{gtm_home}/batch.sqlite")
    seen: list[sa.Connection] = []
    connect = store.engine.connect
    refusals = [sa.exc.OperationalError("connect", {}, Exception("injected: server restarting"))]

    def flaky_connect() -> sa.Connection:
        if refusals:
            raise refusals.pop()
        return connect()

    monkeypatch.setattr(store.engine, "connect", flaky_connect)

    async def twice() -> tuple[Any, Any]:
        writer = BatchWriter(store)
        first = await asyncio.wait_for(
            asyncio.gather(writer.write(_event(store, "svix:1", seen)), return_exceptions=True), 10
        )
        second = await asyncio.wait_for(writer.write(_event(store, "svix:2", seen)), 10)
        return first[0], second

    first, second = asyncio.run(twice())
    assert isinstance(first, sa.exc.OperationalError)
    assert second[1] is True
    with store.reading() as c:
        assert set(c.execute(sa.text("SELECT event_key FROM inbox")).scalars()) == {"svix:2"}
    store.close()
