"""The note a push leaves in the CRM: what happened, from the journal's decisions, and a link.

Decided on purpose: **no reply text at all**, not even a quoted line. The CRM is a copy the
pipeline does not control (other people read it, export it, feed it to other tools), and the reply
is the prospect's own words: it stays in the store, where erasure and access reach it, and the note
says where to read it (the console's page of the prospect, its journal). What the note does carry is
the pipeline's own decisions: the hypothesis, the reply's category, the meeting, the dates.
"""

from __future__ import annotations

from gtm_pipeline.store import JournalRecord, ProspectRecord


def conversation_summary(prospect: ProspectRecord, entries: list[JournalRecord], *, console_url: str) -> str:
    """A short plain-text summary from the prospect's transitions (decisions only) and the link."""
    lines = [f"{prospect.company_name}: outbound conversation (hypothesis {prospect.hypothesis_slug})."]
    for entry in entries:
        if entry.kind != "transition":
            continue
        event, category = entry.payload.get("event"), entry.payload.get("category")
        day = entry.created_at.date().isoformat()
        if event == "sent":
            lines.append(f"{day}: first email sent.")
        elif event == "reply_received":
            lines.append(f"{day}: replied ({category or 'reply'}).")
        elif event == "meeting_booked":
            lines.append(f"{day}: meeting booked.")
    lines.append(f"State now: {prospect.state.value.replace('_', ' ')}.")
    lines.append(f"Journal and replies: {console_url.rstrip('/')}/prospects/{prospect.id}")
    return "\n".join(lines)
