"""A prospect's whole story, in the order things happened, as plain data.

The console's prospect page and ``gtm prospect show`` both read it, so an operator sees the same
conversation in a browser and in a terminal: every email sent (subject, text and the headers that
matter), every inbound message with its words (quoted history folded apart) and who classified it,
the context pack, every draft version with what an edit changed, and each journal entry as
"event → new state" in words.

Order is what happened when: each item carries the moment the thing happened (an email's send, a
reply's own date, a journal entry's time) and, when it differs, when it was processed. Items at the
same moment keep the journal's causal order: a reply is placed before the classification that read
it and the transition it caused, an email before the "sent" entry that recorded it. The store stamps
a simulated day's records with that day, so a rehearsal reads as it would have happened.

Erased people leave tombstones: their texts are gone, and the story says so instead of failing.
No header address is returned: a sender or recipient is given by its hash. The texts are
the person's own (a reply, its quoted history, a signature) and are shown as written to the
operator, who holds them lawfully until an erasure tombstones them.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from gtm_pipeline.console.timeline_words import KIND_WORDS, PROVIDER_WORDS, event_words, state_words
from gtm_pipeline.domain.contracts import ContextPackFinding, DraftFinding, SkillResult, result_model
from gtm_pipeline.domain.ids import content_hash, email_hash
from gtm_pipeline.outreach.mailparse import parse_mail
from gtm_pipeline.outreach.reply_rules import newest_text
from gtm_pipeline.store import ArtifactRecord, Store
from gtm_pipeline.store import schema as t
from gtm_pipeline.store.records import JournalRecord, utc

# The headers of a sent email an operator may need to check (threading, one-click unsubscribe).
SHOWN_HEADERS = ("Message-ID", "In-Reply-To", "References", "List-Unsubscribe", "List-Unsubscribe-Post")


@dataclass
class Item:
    """One thing that happened to the prospect.

    ``kind`` is one of email_sent, email_received, provider_event, draft, context_pack, journal,
    tombstone; ``detail`` holds what that kind shows (plain JSON-able values and datetimes)."""

    kind: str
    at: dt.datetime
    title: str
    actor: str | None = None
    processed_at: dt.datetime | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    journal: JournalRecord | None = None
    # ordering among items of the same moment: (journal seq, before/at/after it, tie)
    anchor: tuple[int, int, int] = (0, 0, 0)

    @property
    def processed_later(self) -> bool:
        return self.processed_at is not None and self.processed_at != self.at

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "kind": self.kind,
            "at": self.at.isoformat(),
            "processed_at": self.processed_at.isoformat()
            if self.processed_later and self.processed_at
            else None,
            "title": self.title,
            "actor": self.actor,
            "detail": _jsonable(self.detail),
        }
        if self.journal is not None:
            shown["journal"] = {
                "entry_id": self.journal.entry_id,
                "seq": self.journal.seq,
                "kind": self.journal.kind,
                "payload": _jsonable(self.journal.payload),
            }
        return shown


@dataclass
class Story:
    """A prospect and everything that happened to it, oldest first."""

    prospect_id: str
    company_name: str
    company_domain: str
    hypothesis: str
    state: str
    state_since: dt.datetime
    erased_at: dt.datetime | None
    items: list[Item]

    def as_json(self) -> dict[str, Any]:
        return {
            "prospect_id": self.prospect_id,
            "company_name": self.company_name,
            "company_domain": self.company_domain,
            "hypothesis": self.hypothesis,
            "state": self.state,
            "state_since": self.state_since.isoformat(),
            "erased_at": self.erased_at.isoformat() if self.erased_at else None,
            "items": [item.as_json() for item in self.items],
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _when(value: Any) -> dt.datetime | None:
    return utc(value) if isinstance(value, dt.datetime) else None


# ------------------------------------------------------------------ journal


def _journal_title(entry: JournalRecord) -> str:
    """An entry in words: a transition as "event → now <state>", others by their kind."""
    p = entry.payload
    if entry.kind == "transition":
        to, before = p.get("to_state"), p.get("from_state")
        if p.get("allowed") is False:
            return f"{event_words(p.get('event'))} → refused, stays {state_words(before)}"
        arrow = f"stays {state_words(to)}" if to == before else f"now {state_words(to)}"
        return f"{event_words(p.get('event'))} → {arrow}"
    if entry.kind == "discovered":
        signal = f" by a {state_words(p['signal_type'])} signal" if p.get("signal_type") else ""
        origin = " from an imported list" if p.get("import_id") or p.get("origin") else ""
        return f"Discovered{signal}{origin} → now {state_words(p.get('to_state') or 'discovered')}"
    if entry.kind == "skill_result":
        producer = (p.get("result") or {}).get("producer") or p.get("producer") or {}
        name = producer.get("skill") or entry.actor.removeprefix("skill:").split("@")[0]
        return f"Skill {name} answered"
    return KIND_WORDS.get(entry.kind, entry.kind.replace("_", " ").capitalize())


def _journal_item(entry: JournalRecord) -> Item:
    p = entry.payload
    result = p.get("result") if isinstance(p.get("result"), dict) else None
    detail: dict[str, Any] = {"tombstoned": "tombstone" in p}
    if result is not None:
        detail["confidence"] = result.get("confidence")
        detail["rationale"] = result.get("rationale")
        finding = result.get("finding") or {}
        if "category" in finding:
            detail["category"] = finding["category"]
    elif "confidence" in p:
        detail["confidence"] = p.get("confidence")
    detail["why"] = p.get("rationale") or p.get("reason")
    return Item(
        kind="journal",
        at=utc(entry.created_at),
        title=_journal_title(entry),
        actor=entry.actor,
        detail=detail,
        journal=entry,
        anchor=(entry.seq, 0, 0),
    )


# ------------------------------------------------------------------ artifacts


def _parsed(artifact: ArtifactRecord, model: type[Any]) -> SkillResult[Any] | None:
    if not artifact.content:
        return None
    try:
        return result_model(model).model_validate_json(artifact.content)
    except ValueError:
        return None


def _diff(before: DraftFinding, after: DraftFinding) -> list[str]:
    """What an edit changed, as unified-diff lines (subject first, then the body)."""
    old = [f"Subject: {before.subject}", "", *before.body.splitlines()]
    new = [f"Subject: {after.subject}", "", *after.body.splitlines()]
    return list(difflib.unified_diff(old, new, "as drafted", "as edited", lineterm="", n=1))[2:]


def _draft_items(drafts: list[ArtifactRecord], by_entry: dict[str, JournalRecord]) -> list[Item]:
    items: list[Item] = []
    parsed: dict[str, DraftFinding] = {}
    for version, art in enumerate(drafts, start=1):
        result = _parsed(art, DraftFinding)
        meta = art.meta or {}
        detail: dict[str, Any] = {
            "artifact_id": art.id,
            "version": version,
            "skill": meta.get("skill"),
            "skill_version": meta.get("skill_version"),
            "group": meta.get("group"),
            "edited_from": meta.get("edited_from"),
            "edited_by": meta.get("edited_by"),
            "tombstoned": result is None,
        }
        if result is not None:
            finding = result.finding
            assert isinstance(finding, DraftFinding)
            parsed[art.id] = finding
            detail.update(
                subject=finding.subject,
                body=finding.body,
                confidence=result.confidence,
                rationale=result.rationale,
            )
            source = parsed.get(str(meta.get("edited_from") or ""))
            detail["diff"] = _diff(source, finding) if source is not None else []
        if meta.get("edited_from"):
            title, actor = f"Draft v{version}: edited by the operator", meta.get("edited_by")
        else:
            title = f"Draft v{version} written by {meta.get('skill')}@{meta.get('skill_version')}"
            actor = f"skill:{meta.get('skill')}@{meta.get('skill_version')}"
        if result is None:
            title += " (erased)"
        entry = by_entry.get(art.journal_entry_id or "")
        items.append(
            Item(
                "draft",
                utc(art.created_at),
                title,
                actor=actor,
                detail=detail,
                anchor=(entry.seq, 0, 0) if entry else (0, 0, 0),
            )
        )
    return items


def _pack_item(art: ArtifactRecord, by_entry: dict[str, JournalRecord]) -> Item:
    result = _parsed(art, ContextPackFinding)
    meta = art.meta or {}
    detail: dict[str, Any] = {"artifact_id": art.id, "tombstoned": result is None}
    if result is not None:
        finding = result.finding
        assert isinstance(finding, ContextPackFinding)
        detail.update(
            channel=finding.channel,
            connection_note=finding.connection_note,
            talking_points=list(finding.talking_points),
            recent_activity=list(finding.recent_activity),
            avoid=list(finding.avoid),
            confidence=result.confidence,
        )
    channel = detail.get("channel") or "a manual channel"
    entry = by_entry.get(art.journal_entry_id or "")
    return Item(
        "context_pack",
        utc(art.created_at),
        f"Context pack for {channel}" + ("" if result is not None else " (erased)"),
        actor=f"skill:{meta.get('skill')}@{meta.get('skill_version')}",
        detail=detail,
        anchor=(entry.seq, 0, 0) if entry else (0, 0, 0),
    )


# ------------------------------------------------------------------ email


def _touch_items(c: sa.Connection, prospect_id: str, journal: list[JournalRecord]) -> list[Item]:
    rows = c.execute(
        sa.select(t.outbox).where(t.outbox.c.prospect_id == prospect_id).order_by(t.outbox.c.touch_number)
    ).all()
    items = []
    for row in rows:
        payload = row.payload or {}
        headers = payload.get("headers") or {}
        sent_entry = _touch_entry(journal, row.touch_id, "sent")
        scheduled = _touch_entry(journal, row.touch_id, None)
        detail: dict[str, Any] = {
            "touch_id": row.touch_id,
            "touch_number": row.touch_number,
            "status": row.status,
            "from": payload.get("from") or row.mailbox,
            "to_hash": row.to_hash,
            "reply_to_set": bool(payload.get("reply_to")),
            "subject": payload.get("subject"),
            "text": payload.get("text"),
            "headers": {name: headers[name] for name in SHOWN_HEADERS if name in headers},
            "idempotency_key_hash": hashlib.sha256(row.idempotency_key.encode()).hexdigest()[:16],
            "provider_email_id": row.provider_email_id,
            "attempts": row.attempts,
            "last_error": row.last_error,
            "written_at": utc(row.created_at),
            "delivered_at": _when(row.delivered_at),
            "bounced_at": _when(row.bounced_at),
            "complained_at": _when(row.complained_at),
            "tombstoned": row.tombstoned_at is not None,
            "artifact_id": row.artifact_id,
        }
        sent_at = _when(row.sent_at)
        title = f"Email #{row.touch_number} " + ("sent" if sent_at else f"not sent yet ({row.status})")
        if row.tombstoned_at is not None:
            title += " (its text was erased)"
        if sent_entry is not None:
            anchor = (sent_entry.seq, -1, 0)
        elif scheduled is not None:
            anchor = (scheduled.seq, 1, 0)
        else:
            anchor = (0, 0, 0)
        items.append(
            Item(
                "email_sent",
                sent_at or utc(row.created_at),
                title,
                actor=row.mailbox,
                processed_at=None,
                detail=detail,
                anchor=anchor,
            )
        )
    return items


def _touch_entry(
    journal: list[JournalRecord], touch_id: str | None, event: str | None
) -> JournalRecord | None:
    """The first entry about a touch (of one event, if given)."""
    if touch_id is None:
        return None
    return next(
        (
            e
            for e in journal
            if e.payload.get("touch_id") == touch_id and (event is None or e.payload.get("event") == event)
        ),
        None,
    )


def _split_reply(text: str) -> tuple[str, str]:
    """(the sender's new words, the quoted history and signature after them)."""
    full = text.replace("\r\n", "\n").strip()
    newest = newest_text(full)
    if not newest:
        return "", full
    last_line = newest.splitlines()[-1]
    cut = full.find(last_line, full.find(newest.splitlines()[0]))
    end = cut + len(last_line) if cut >= 0 else len(newest)
    return newest, full[end:].strip()


def _inbound_items(
    c: sa.Connection, prospect_id: str, journal: list[JournalRecord], contact_hash: str | None
) -> list[Item]:
    rows = c.execute(
        sa.select(t.inbox).where(t.inbox.c.prospect_id == prospect_id).order_by(t.inbox.c.id)
    ).all()
    items = []
    for row in rows:
        received, processed = utc(row.received_at), _when(row.processed_at)
        outcome = row.outcome or {}
        refs = [e for e in journal if e.payload.get("inbox_event") == row.id]
        detail: dict[str, Any] = {
            "event_id": row.id,
            "event_type": row.event_type,
            "status": row.status,
            "touch_id": row.touch_id,
            "received_at": received,
            "processed_at": processed,
            "outcome": dict(outcome),
            "tombstoned": row.tombstoned_at is not None,
        }
        at = received
        if row.event_type == "email.received":
            kind = "email_received"
            title = "Reply received"
            if row.raw_message:
                mail = parse_mail(row.raw_message)
                newest, history = _split_reply(mail.text)
                reply_source = f"reply:{content_hash(mail.text)[:16]}"
                refs += [e for e in journal if _cites(e, reply_source) and e not in refs]
                if mail.date is not None and mail.date < received:
                    at = mail.date  # written before it reached us; never "after" its arrival
                sender = email_hash(mail.from_address) if "@" in mail.from_address else None
                detail.update(
                    subject=mail.subject,
                    text=newest,
                    quoted=history,
                    written_at=mail.date,
                    from_hash=sender,
                    from_contact=sender is not None and sender == contact_hash,
                    in_reply_to=mail.in_reply_to,
                )
                if not newest:
                    detail["text"] = ""
            elif row.tombstoned_at is not None:
                title = "Reply received (its text was erased)"
            else:
                title = "Reply received (its text is not fetched yet)"
            category = outcome.get("category")
            if category:
                decided = str(outcome.get("decided_by") or "")
                detail["classification"] = {
                    "category": category,
                    "decided_by": decided,
                    "by": "skill" if decided.startswith("skill:") else "rule",
                    "confidence": outcome.get("confidence"),
                    "human": outcome.get("human"),
                }
                title += f": {str(category).replace('_', ' ')}"
        else:
            kind = "provider_event"
            title = PROVIDER_WORDS.get(row.event_type, row.event_type)
            note = outcome.get("note")
            if note:
                detail["note"] = note
        if refs:
            anchor = (min(e.seq for e in refs), -1, 0)
        else:  # a provider's note on a touch (sent, delivered): just after the touch was sent
            sent = _touch_entry(journal, row.touch_id, "sent")
            anchor = (sent.seq, 1, 0) if sent is not None else (0, 0, 0)
        items.append(Item(kind, at, title, processed_at=processed or received, detail=detail, anchor=anchor))
    return items


def _cites(entry: JournalRecord, source_id: str) -> bool:
    """Whether a skill result quoted this source (or, tombstoned, still names it)."""
    p = entry.payload
    if source_id in (p.get("evidence_sources") or []):
        return True
    result = p.get("result")
    return isinstance(result, dict) and any(
        isinstance(e, dict) and e.get("source_id") == source_id for e in result.get("evidence") or []
    )


# ------------------------------------------------------------------ the story


def _place(items: list[Item], journal: list[JournalRecord]) -> None:
    """Give an item with no journal entry of its own the place of the last entry at or before it."""
    for item in items:
        if item.anchor != (0, 0, 0) or not journal:
            continue
        before = [e.seq for e in journal if utc(e.created_at) <= item.at]
        item.anchor = (max(before), 1, 0) if before else (0, -1, 0)


def story(store: Store, prospect_id: str, journal: list[JournalRecord] | None = None) -> Story | None:
    """Everything that happened to one prospect, oldest first (None: no such prospect).

    Reads only this prospect's rows: its journal (unless given, oldest first), artifacts, outbox
    and inbox."""
    with store.reading() as c:
        prospect = c.execute(sa.select(t.prospects).where(t.prospects.c.id == prospect_id)).first()
    if prospect is None:
        return None
    if journal is None:
        journal = store.journal.entries(prospect_id)
    by_entry = {e.entry_id: e for e in journal}
    drafts = store.artifacts.of_kind(prospect_id, "draft")
    packs = store.artifacts.of_kind(prospect_id, "context_pack")
    shown_entries = {a.journal_entry_id for a in [*drafts, *packs] if a.journal_entry_id}
    items = [_journal_item(e) for e in journal if e.entry_id not in shown_entries]
    items += _draft_items(drafts, by_entry)
    items += [_pack_item(a, by_entry) for a in packs]
    if packs:  # the one the page links to as "the context pack"
        next(i for i in items if i.kind == "context_pack" and i.detail["artifact_id"] == packs[-1].id).detail[
            "latest"
        ] = True
    contact_hash = prospect.contact_email_hash
    with store.reading() as c:
        items += _touch_items(c, prospect_id, journal)
        items += _inbound_items(c, prospect_id, journal, contact_hash)
    erased_at = _when(prospect.erased_at)
    if erased_at is not None:
        items.append(
            Item(
                "tombstone",
                erased_at,
                "Personal data erased: names, addresses, emails and replies are gone; ids, hashes "
                "and decisions stay",
                detail={"reason": _erasure_reason(journal)},
            )
        )
    _place(items, journal)
    for n, item in enumerate(items):
        item.anchor = (*item.anchor[:2], n)
    items.sort(key=lambda i: (i.at, i.anchor))
    return Story(
        prospect_id=prospect_id,
        company_name=str(prospect.company_name),
        company_domain=str(prospect.company_domain),
        hypothesis=str(prospect.hypothesis_slug),
        state=str(prospect.state),
        state_since=utc(prospect.state_since),
        erased_at=erased_at,
        items=items,
    )


def _erasure_reason(journal: list[JournalRecord]) -> str | None:
    for entry in reversed(journal):
        tomb = entry.payload.get("tombstone")
        if isinstance(tomb, dict) and tomb.get("reason"):
            return str(tomb["reason"])
    return None
