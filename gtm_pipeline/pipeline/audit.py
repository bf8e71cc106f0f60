"""Replay and verification of the journal: the source of truth, checked.

For every prospect: the hash chain must link (each entry carries the hash of the one
before it, and its own hash recomputes), every payload not tombstoned must still hash to
its recorded digest, the state folded from the journal through the transition table must
equal the stored state, and, where Dagster anchored the chain (the ``journal`` asset's
materialization metadata), the anchored entry must still carry the anchored hash.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gtm_pipeline.domain.history import fold
from gtm_pipeline.domain.journal import GENESIS_HASH, entry_hash, payload_hash
from gtm_pipeline.store import JournalRecord, Store


@dataclass(frozen=True)
class Anchor:
    """What Dagster recorded of a prospect's journal: the head at materialization time."""

    seq: int
    entry_hash: str


@dataclass(frozen=True)
class Problem:
    prospect_id: str
    entry_id: str | None
    message: str

    def __str__(self) -> str:
        where = f" entry {self.entry_id}" if self.entry_id else ""
        return f"{self.prospect_id}{where}: {self.message}"


@dataclass
class ReplayReport:
    prospects: int = 0
    entries: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def journal_anchor(head: JournalRecord | None) -> dict[str, Any]:
    """Materialization metadata that anchors a prospect's journal head in Dagster's event log."""
    if head is None:
        return {"head_seq": 0, "head_hash": GENESIS_HASH}
    return {"head_seq": head.seq, "head_hash": head.entry_hash, "head_entry_id": head.entry_id}


def chain_problems(prospect_id: str, entries: Sequence[JournalRecord]) -> list[Problem]:
    """Every break in a prospect's hash chain."""
    problems: list[Problem] = []
    previous = GENESIS_HASH
    for expected_seq, entry in enumerate(entries, start=1):
        if entry.seq != expected_seq:
            problems.append(
                Problem(prospect_id, entry.entry_id, f"sequence {entry.seq}, expected {expected_seq}")
            )
        if entry.prev_hash != previous:
            problems.append(Problem(prospect_id, entry.entry_id, "does not link to the entry before it"))
        recomputed = entry_hash(
            subject=entry.subject,
            seq=entry.seq,
            kind=entry.kind,
            actor=entry.actor,
            payload_digest=entry.payload_hash,
            prev_hash=entry.prev_hash,
            created_at=entry.created_at,
        )
        if recomputed != entry.entry_hash:
            problems.append(Problem(prospect_id, entry.entry_id, "entry hash does not match its fields"))
        if entry.tombstoned_at is None and payload_hash(entry.payload) != entry.payload_hash:
            problems.append(Problem(prospect_id, entry.entry_id, "payload was edited after it was written"))
        previous = entry.entry_hash
    return problems


def replay_check(store: Store, anchors: Mapping[str, Anchor] | None = None) -> ReplayReport:
    """Verify every prospect's chain, rebuild its state from the journal, compare with the store."""
    report = ReplayReport()
    for prospect in store.prospects.find():
        entries = store.journal.entries(prospect.id)
        report.prospects += 1
        report.entries += len(entries)
        report.problems += chain_problems(prospect.id, entries)
        history = fold(entries)
        report.problems += [Problem(prospect.id, None, text) for text in history.problems]
        if history.state is not prospect.state:
            last = entries[-1].entry_id if entries else None
            derived = history.state.value if history.state else "nothing"
            report.problems.append(
                Problem(prospect.id, last, f"stored state {prospect.state.value}, journal gives {derived}")
            )
        anchor = (anchors or {}).get(prospect.id)
        if anchor is not None and anchor.seq > 0:
            anchored = next((e for e in entries if e.seq == anchor.seq), None)
            if anchored is None or anchored.entry_hash != anchor.entry_hash:
                report.problems.append(
                    Problem(
                        prospect.id,
                        anchored.entry_id if anchored else None,
                        f"entry {anchor.seq} differs from the anchored head {anchor.entry_hash[:12]}…",
                    )
                )
    return report
