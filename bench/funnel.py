"""Benchmark: the funnel to the money (issue 19, item 3) at 100,000 prospects.

Fills a store with ``bench/scale.py``'s builder (``fill``: synthetic prospects with real journal
chains, 30 % of them qualified), then carries the qualified ones further the way a campaign would:
a draft by one of two versions of the drafting skill, a touch in the send ledger and its ``sent``
entry, replies of every category, bookings (a few cancelled) and won deals; and gives every
discovery verdict one to three signals (kind, date, quote, weight), as discovery journals them.
The extension's journal entries carry placeholder hashes and the states on ``prospects`` are left
as ``fill`` set them: the funnel reads neither (``bench/scale.py`` measures replay).

Then it times what the funnel does, on SQLite and (``--postgres``) on a throwaway PostgreSQL:

- the snapshot: the store's rows the funnel needs, read through SQLAlchemy into pandas, with the
  JSON fields extracted by the database;
- DuckDB over it: every prospect's furthest stage, then the group-bys (per hypothesis, drafting
  skill version, strongest signal);
- ``funnel_report`` end to end (what ``gtm report --json`` runs), per dimension;
- the console's kept funnel (``gtm_pipeline.funnel.cache``): a first view, a next one with the
  journal unchanged, and one skill's outcome records (graduation's evidence) read from it;
- for comparison, two other ways: every transition's whole payload handed to DuckDB as JSON text
  (DuckDB parses it), and the database grouping by itself (one SQL GROUP BY per stage marker, the
  way the console's funnel was computed before);
- the console's charts page and hypothesis pages over HTTP (SQLite).

Prints figures; asserts nothing. A part that cannot run says so and why.

    python bench/funnel.py --prospects 100000
    python bench/funnel.py --prospects 100000 --postgres
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from scale import EPOCH, PG_PORT, fill, postgres_server  # the same 100,000 prospects as scale.py

SKILL = "draft-first-touch"
VERSIONS = ("1.0.0", "1.1.0")
KINDS = (
    "hiring",
    "funding",
    "regulatory_event",
    "leadership_change",
    "technology_adoption",
    "public_statement",
)
# A reply's category and its event (classify-reply's categories that are replies).
REPLIES = (
    [("interested", "reply_received", "replied")] * 30
    + [("question", "reply_received", "replied")] * 15
    + [("referral", "reply_received", "replied")] * 5
    + [("other", "reply_received", "replied")] * 15
    + [("not_now", "not_now_reply", "not_now")] * 20
    + [("not_a_fit", "not_a_fit_reply", "not_a_fit")] * 10
    + [("unsubscribe", "unsubscribed", "do_not_contact")] * 5
)
PLACEHOLDER = "0" * 64


def _timed(label: str, fn: Callable[[], Any], note: str = "") -> Any:
    """Wall time and this process' CPU time (the CPU figure holds on a busy machine; the funnel runs
    in one thread, so on an idle one the two agree)."""
    started, cpu = time.perf_counter(), time.process_time()
    value = fn()
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    print(f"  {label:<58}{wall:>7.2f} s wall {used:>6.2f} s CPU   {note}")
    return value


def _signals(rng: random.Random) -> list[dict[str, Any]]:
    """One to three signals as discovery journals them (``Signal.as_dict``)."""
    out = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        kind, weight, recency = rng.choice(KINDS), rng.choice((0.5, 1.0, 1.5)), round(rng.random(), 4)
        day = (
            (EPOCH.date().toordinal() + rng.randint(0, 300))
            if rng.random() < 0.9
            else EPOCH.date().toordinal()
        )
        out.append(
            {
                "kind": kind,
                "date": EPOCH.date().fromordinal(day).isoformat(),
                "quote": f"The company announced a {kind.replace('_', ' ')} programme "
                + "x" * rng.randint(40, 160),
                "url": f"https://news.example/{rng.randint(0, 10**9)}",
                "source": "corpus",
                "source_id": f"s_{rng.randint(0, 10**9):x}",
                "weight": weight,
                "recency": recency,
                "contribution": round(weight * recency, 4),
            }
        )
    return out


def extend(url: str, seed: int = 11) -> dict[str, int]:
    """Carry ``fill``'s qualified prospects through drafts, sends, replies, meetings and deals, and
    give every discovery verdict its signals; returns how many of each were written."""
    from gtm_pipeline.store import schema as t

    rng = random.Random(seed)
    engine = sa.create_engine(url)
    counts = dict.fromkeys(("signals", "drafts", "sent", "replies", "meetings", "cancelled", "won"), 0)
    with engine.connect() as c:
        discovered = c.execute(
            sa.select(t.journal.c.id, t.journal.c.payload).where(t.journal.c.kind == "discovered")
        ).all()
        qualified = [
            (str(r.id), r.state_since)
            for r in c.execute(
                sa.select(t.prospects.c.id, t.prospects.c.state_since).where(
                    t.prospects.c.state == "qualified"
                )
            )
        ]
    update = (
        t.journal.update()
        .where(t.journal.c.id == sa.bindparam("row_id"))
        .values(payload=sa.bindparam("body"))
    )
    for start in range(0, len(discovered), 10_000):
        with engine.begin() as c:
            c.execute(
                update,
                [
                    {"row_id": row.id, "body": {**row.payload, "signals": _signals(rng)}}
                    for row in discovered[start : start + 10_000]
                ],
            )
    counts["signals"] = len(discovered)
    for start in range(0, len(qualified), 5_000):
        artifacts, touches, journal = [], [], []
        for pid, since in qualified[start : start + 5_000]:
            if rng.random() > 0.8:
                continue  # qualified, not drafted yet
            version = VERSIONS[rng.random() < 0.5]
            artifact = f"a_{pid[2:]}d"
            at = since + dt.timedelta(hours=1)
            artifacts.append(
                {
                    "id": artifact,
                    "prospect_id": pid,
                    "kind": "draft",
                    "content": '{"finding": {"subject": "A short note", "body": "' + "y" * 600 + '"}}',
                    "content_hash": PLACEHOLDER,
                    "meta": {
                        "skill": SKILL,
                        "skill_version": version,
                        "group": "writing-copilot",
                        "input_hash": "x",
                    },
                    "created_at": at,
                }
            )
            counts["drafts"] += 1
            steps: list[tuple[str, str, str, dict[str, Any]]] = [
                ("draft_ready_for_review", "qualified", "awaiting_review", {"draft_artifact": artifact})
            ]
            if rng.random() < 0.85:
                touch = f"t_{pid[2:]}1"
                touches.append(
                    {
                        "touch_id": touch,
                        "prospect_id": pid,
                        "touch_number": 1,
                        "idempotency_key": f"k/{pid}/1",
                        "message_id": f"<{pid}.1@mail.example>",
                        "artifact_id": artifact,
                        "mailbox": "ana@mail.example",
                        "sending_domain": "mail.example",
                        "to_hash": PLACEHOLDER[:40],
                        "payload": None,
                        "status": "sent",
                        "created_at": at,
                        "sent_at": at,
                    }
                )
                counts["sent"] += 1
                steps += [
                    ("draft_approved", "awaiting_review", "approved", {}),
                    ("send_scheduled", "approved", "scheduled", {}),
                    ("sent", "scheduled", "sent", {"touch_id": touch, "touch_number": 1}),
                    ("delivered", "sent", "awaiting_reply", {}),
                ]
                if rng.random() < 0.10:
                    category, event, state = rng.choice(REPLIES)
                    counts["replies"] += 1
                    steps.append(
                        (event, "awaiting_reply", state, {"category": category, "decided_by": "bench"})
                    )
                    if category in ("interested", "question", "referral") and rng.random() < 0.4:
                        counts["meetings"] += 1
                        steps.append(("meeting_booked", "replied", "meeting_booked", {}))
                        if rng.random() < 0.1:
                            counts["cancelled"] += 1
                            steps.append(("meeting_cancelled", "meeting_booked", "replied", {}))
                        elif rng.random() < 0.25:
                            counts["won"] += 1
                            steps.append(("deal_won", "meeting_booked", "won", {}))
                else:
                    steps.append(("no_reply_timeout", "awaiting_reply", "follow_up_due", {}))
            for seq, (event, before, after, details) in enumerate(steps, start=4):
                journal.append(
                    {
                        "entry_id": f"j_{pid[2:]}{seq:02d}",
                        "subject": pid,
                        "seq": seq,
                        "kind": "transition",
                        "actor": "bench",
                        "payload": {
                            **details,
                            "event": event,
                            "from_state": before,
                            "to_state": after,
                            "allowed": True,
                            "rationale": "bench",
                            "reason": f"{before} -> {after} on {event}",
                        },
                        "payload_hash": PLACEHOLDER,
                        "prev_hash": PLACEHOLDER,
                        "entry_hash": PLACEHOLDER,
                        "created_at": at + dt.timedelta(minutes=seq),
                    }
                )
        with engine.begin() as c:
            if artifacts:
                c.execute(t.artifacts.insert(), artifacts)
            if touches:
                c.execute(t.outbox.insert(), touches)
            if journal:
                c.execute(t.journal.insert(), journal)
    engine.dispose()
    counts["meetings"] -= counts["cancelled"]
    return counts


def measure(url: str, label: str) -> None:
    """The funnel's steps on the store at ``url``."""
    import duckdb

    from gtm_pipeline.funnel import DIMENSIONS, funnel_report, skill_version_outcomes
    from gtm_pipeline.funnel.cache import FUNNELS, cached_funnel
    from gtm_pipeline.funnel.compute import FunnelData
    from gtm_pipeline.funnel.snapshot import take
    from gtm_pipeline.store import Store
    from gtm_pipeline.store import schema as t

    store = Store.open(url)
    try:
        print(f"{label}: the funnel (DuckDB over a snapshot read through SQLAlchemy)")
        snapshot = _timed(
            "snapshot: the funnel's rows into pandas",
            lambda: take(store),
        )
        sizes = ", ".join(f"{name} {len(frame):,}" for name, frame in snapshot.frames().items())
        print(f"    rows: {sizes}")
        data = _timed("DuckDB: every prospect's furthest stage", lambda: FunnelData(snapshot))
        for by in DIMENSIONS:
            rows = _timed(f"DuckDB: group by {by}", partial(data.rows, by))
            if by == "hypothesis":
                for row in rows:
                    print(f"    {row.key}: " + " > ".join(f"{s.name} {s.count:,}" for s in row.stages))
        data.close()
        for by in DIMENSIONS:
            _timed(
                f"funnel_report(by={by}) end to end (gtm report --json)", partial(funnel_report, store, by)
            )
        FUNNELS.clear()
        _timed("the console's funnel, first view (computed)", lambda: cached_funnel(store).rows("hypothesis"))
        _timed(
            "the console's funnel, next view (journal unchanged)", lambda: cached_funnel(store).rows("signal")
        )
        records = _timed(
            "skill_version_outcomes(draft-first-touch), from that funnel",
            lambda: skill_version_outcomes(store, SKILL),
        )
        for r in records:
            print(f"    {r.skill}@{r.version}: {r.meeting_rate.words} meetings, {r.win_rate.words} wins")

        print(f"{label}: other ways, for comparison")

        def whole_payloads() -> int:
            with store.reading() as c:
                rows = c.execute(
                    sa.select(t.journal.c.subject, sa.cast(t.journal.c.payload, sa.Text)).where(
                        t.journal.c.kind.in_(["transition", "transition_rejected", "discovered"])
                    )
                ).all()
            import pandas as pd

            frame = pd.DataFrame.from_records([tuple(r) for r in rows], columns=["subject", "payload"])
            with duckdb.connect() as con:
                con.register("j", frame)
                return int(
                    con.execute(
                        "SELECT count(DISTINCT subject) FROM j "
                        "WHERE json_extract_string(payload, '$.event') = 'sent'"
                    ).fetchone()[0]  # type: ignore[index]
                )

        _timed("whole payloads as JSON text, parsed by DuckDB", whole_payloads, "(only the sent stage)")

        def database_grouping() -> int:
            to_state = t.journal.c.payload["to_state"].as_string()
            query = (
                sa.select(
                    t.prospects.c.hypothesis_slug,
                    to_state,
                    sa.func.count(sa.distinct(t.journal.c.subject)),
                )
                .join(t.prospects, t.prospects.c.id == t.journal.c.subject)
                .where(t.journal.c.kind.in_(["transition", "discovered"]))
                .group_by(t.prospects.c.hypothesis_slug, to_state)
            )
            with store.reading() as c:
                return len(c.execute(query).all())

        _timed(
            "the database groups by itself (per to_state, no signal/skill)",
            database_grouping,
            "(the console's funnel before issue 19)",
        )
    finally:
        store.close()


def console_pages(settings: Any, requests: int) -> None:
    import httpx

    from gtm_pipeline.app import create_app
    from gtm_pipeline.console.routes import hypotheses
    from gtm_pipeline.outreach.local_server import serving
    from gtm_pipeline.pipeline.services import Services

    services = Services.from_settings(settings)
    app = create_app(settings, services=services)
    if not any(getattr(r, "path", None) == "/hypotheses" for r in app.routes):
        app.include_router(hypotheses.router)
    pages = {
        "charts (funnel per hypothesis, skill, signal; weekly rates)": "/charts",
        "hypotheses (list)": "/hypotheses",
        "one hypothesis (which signals lead to meetings)": "/hypotheses/fintech-audit-readiness",
    }
    print(f"console pages over HTTP ({requests} requests each, one client)")
    try:
        with serving(app) as base, httpx.Client(base_url=base, timeout=120) as client:
            client.post("/login", data={"password": "bench"})
            for name, path in pages.items():
                samples = []
                for _ in range(requests):
                    started = time.perf_counter()
                    response = client.get(path)
                    samples.append(time.perf_counter() - started)
                    if response.status_code != 200:
                        print(f"  {name}: HTTP {response.status_code}")
                        break
                print(
                    f"  {name:<58}{statistics.median(samples):>7.2f} s median, {max(samples):.2f} s slowest "
                    f"(the first view computes the funnel)"
                )
    finally:
        services.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prospects", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=3, help="requests per console page")
    parser.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # figures as they come
    home = Path(tempfile.mkdtemp(prefix="gtm-funnel-"))
    os.environ.update({"GTM_HOME": str(home), "GTM_OPERATOR_PASSWORD": "bench", "GTM_OFFLINE": "on"})
    try:
        from gtm_pipeline.config import load_settings
        from gtm_pipeline.store import Store

        settings = load_settings()
        url = settings.paths.database_url
        Store.open(url).close()  # create the schema
        started = time.perf_counter()
        fill(url, args.prospects)
        written = extend(url)
        print(
            f"funnel benchmark: {args.prospects:,} prospects, "
            + ", ".join(f"{k} {v:,}" for k, v in written.items())
            + f" (store filled in {time.perf_counter() - started:.1f} s, setup)"
        )
        measure(url, "SQLite")
        console_pages(settings, args.requests)
        if args.postgres:
            try:
                with postgres_server(PG_PORT) as server:
                    admin = sa.create_engine(
                        f"{server.replace('postgresql://', 'postgresql+psycopg://')}/postgres",
                        isolation_level="AUTOCOMMIT",
                    )
                    with admin.connect() as c:
                        c.execute(sa.text("CREATE DATABASE gtm"))
                    admin.dispose()
                    pg = f"{server.replace('postgresql://', 'postgresql+psycopg://')}/gtm"
                    Store.open(pg).close()
                    fill(pg, args.prospects)
                    extend(pg)
                    measure(pg, "Postgres")
            except Exception as exc:  # a figure not measured is printed with why, never hidden
                print(f"Postgres: not measured ({type(exc).__name__}: {exc})")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
