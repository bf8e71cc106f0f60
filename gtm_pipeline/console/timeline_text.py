"""A prospect's story (:mod:`gtm_pipeline.console.timeline`) for a terminal and as JSON: what
``gtm prospect show`` prints. The browser renders the same story with ``partials/timeline.html``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from gtm_pipeline.console.timeline import Item, Story


def as_text(s: Story, *, quoted: bool = False) -> str:
    """The story for a terminal: one block per item, texts indented (a reply's quoted history
    folded to one line unless ``quoted``)."""
    lines = [
        f"{s.company_name} ({s.company_domain}) {s.prospect_id}",
        f"state {s.state} since {_stamp(s.state_since)} · hypothesis {s.hypothesis}",
    ]
    if s.erased_at:
        lines.append(f"personal data erased {_stamp(s.erased_at)}")
    for item in s.items:
        lines.append("")
        when = _stamp(item.at)
        if item.processed_later and item.processed_at:
            when += f" (processed {_stamp(item.processed_at)})"
        lines.append(f"{when}  {item.title}" + (f"  [{item.actor}]" if item.actor else ""))
        lines += ["    " + line for line in _text_lines(item, quoted)]
    return "\n".join(lines)


def who_decided(classification: dict[str, Any]) -> str:
    """ "skill classify-reply@1.0.0" or "rule unsubscribe-phrase": the kind, then its name."""
    name = str(classification.get("decided_by") or "")
    for prefix in ("skill:", "rule:"):
        name = name.removeprefix(prefix)
    return f"{classification.get('by')} {name}"


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _text_lines(item: Item, quoted: bool) -> list[str]:
    d = item.detail
    out: list[str] = []
    if item.kind == "email_sent":
        if d.get("subject"):
            out.append(f"Subject: {d['subject']}")
        out += [f"{k}: {v}" for k, v in d.get("headers", {}).items()]
        out.append(f"idempotency key (sha256): {d['idempotency_key_hash']}")
        if d.get("text"):
            out += ["", *str(d["text"]).splitlines()]
    elif item.kind == "email_received":
        if d.get("subject"):
            out.append(f"Subject: {d['subject']}")
        cls = d.get("classification")
        if cls:
            conf = f", confidence {cls['confidence']:.2f}" if isinstance(cls.get("confidence"), float) else ""
            out.append(f"classified {cls['category']} by {who_decided(cls)}{conf}")
        if d.get("text"):
            out += ["", *str(d["text"]).splitlines()]
        if d.get("quoted") and quoted:
            out += ["", *str(d["quoted"]).splitlines()]
        elif d.get("quoted"):
            out.append(
                f"[quoted history: {len(str(d['quoted']).splitlines())} lines folded; --quoted shows it]"
            )
    elif item.kind == "draft":
        if d.get("subject"):
            out += [f"Subject: {d['subject']}", "", *str(d.get("body", "")).splitlines()]
        if d.get("diff"):
            out += ["", "changed by the edit:", *d["diff"]]
    elif item.kind == "context_pack":
        if d.get("connection_note"):
            out.append(f"connection note: {d['connection_note']}")
        out += [f"- {point}" for point in d.get("talking_points", [])]
    elif item.kind == "journal":
        if d.get("category"):
            out.append(f"category {d['category']}")
        if isinstance(d.get("confidence"), float):
            out.append(f"confidence {d['confidence']:.2f}")
        why = d.get("why") or d.get("rationale")
        if why:
            out.append(str(why))
    elif item.kind == "provider_event" and d.get("note"):
        out.append(str(d["note"]))
    elif item.kind == "tombstone" and d.get("reason"):
        out.append(f"reason: {d['reason']}")
    return out


def dumps(s: Story) -> str:
    return json.dumps(s.as_json(), indent=2, ensure_ascii=False)
