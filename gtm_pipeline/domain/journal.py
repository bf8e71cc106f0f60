"""Hash chaining of journal entries (pure).

Each subject's entries form a chain: an entry's hash covers its position, kind, actor,
the hash of its payload and the hash of the entry before it. A tombstone removes the
payload but keeps ``payload_hash``, so the chain stays verifiable after an erasure and
any edit after the fact breaks it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces) for hashing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def payload_hash(payload: dict[str, Any]) -> str:
    """Hash of an entry's content."""
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def entry_hash(
    *,
    subject: str,
    seq: int,
    kind: str,
    actor: str,
    payload_digest: str,
    prev_hash: str,
    created_at: dt.datetime,
) -> str:
    """Hash of one link of the chain."""
    stamp = created_at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    material = "\x1f".join([subject, str(seq), kind, actor, payload_digest, prev_hash, stamp])
    return hashlib.sha256(material.encode()).hexdigest()


# What a tombstone keeps of each kind of entry: decision metadata, never free text or
# anything a person could be recognised by. Everything else in the payload is removed.
_KEPT_KEYS: dict[str, tuple[str, ...]] = {
    "transition": (
        "event",
        "from_state",
        "to_state",
        "allowed",
        "reason",
        "revisit_on",
        "resume_on",
        "revisit_when",
        "category",  # a reply's class (interested, not_now...): the funnel counts it after an erasure
    ),
    "transition_rejected": ("event", "from_state", "to_state", "allowed", "reason"),
    "discovered": (
        "hypothesis",
        "hypothesis_version",
        "signal_type",
        "signal_date",
        "signal_source_id",
        "score",
        "sources",
        "to_state",
        # where an imported prospect came from: the list and its line, not the row's content
        "origin",
        "import_id",
        "file",
        "line",
    ),
    "skill_result": ("input_hash",),
    # a signal seen on a known prospect: its kind, date and weight stay; the quote and URL go
    "signal_observed": ("kind", "date", "source", "weight", "recency", "contribution"),
    "dead_letter": ("input_hash", "attempts", "reason_kind", "dead_letter_id", "provider"),
}
_KEPT_PRODUCER_KEYS = (
    "skill",
    "skill_version",
    "group",
    "mode",
    "provider",
    "model",
    "prompt_hash",
    "attempt",
)


def redact(kind: str, payload: dict[str, Any], reason: str) -> dict[str, Any]:
    """The payload a tombstoned entry keeps: decision metadata and the reason, no personal data."""
    kept = {key: payload[key] for key in _KEPT_KEYS.get(kind, ()) if key in payload}
    result = payload.get("result")
    if kind == "skill_result" and isinstance(result, dict):
        producer = result.get("producer") or {}
        kept["producer"] = {key: producer[key] for key in _KEPT_PRODUCER_KEYS if key in producer}
        kept["confidence"] = result.get("confidence")
        kept["evidence_sources"] = sorted({e.get("source_id") for e in result.get("evidence", []) if e})
    kept["tombstone"] = {"reason": reason}
    return kept
