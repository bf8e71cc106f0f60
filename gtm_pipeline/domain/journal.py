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
