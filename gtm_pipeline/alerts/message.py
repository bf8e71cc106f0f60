"""An alert's words: what happened, about which company, when, and where to look.

No personal data leaves in a message: the escalation's ``detail`` (which may quote a failing
address or a reply) is never included, a prospect is named by its company, and every part is
scrubbed of anything shaped like an email address before it is sent, whatever it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gtm_pipeline.store import Store
from gtm_pipeline.store.escalations import Escalation

# What each kind means to an operator (an unknown kind is shown as its name).
KIND_WORDS = {
    "run_failure": "a Dagster run failed",
    "dead_letter": "a skill's answer failed its contract and was dead-lettered",
    "domain_halt": "sending is halted on a domain",
    "circuit_open": "a model provider is failing (its circuit opened)",
    "provider_fallback": "results came from a fallback provider",
    "provider_busy": "a model provider keeps answering 429: calls wait",
    "spend_cap": "a skill group reached its daily spend cap",
    "touch_failed": "an email could not be sent",
    "touch_uncertain": "whether an email went out is uncertain",
    "unmatched_event": "an inbound event matched no email we sent",
    "missing_partition": "a sensor waits on a prospect Dagster does not know yet",
    "inbox_held": "replies and delivery events wait behind a database transaction left open",
    "research_blocked": "research on a company is blocked",
    "rights_overdue": "a rights request is overdue",
    "alert_failed": "an alert channel is failing",
    "crm_failed": "the CRM refused a push, a deal poll or an erasure",
    "crm_erasure_handoff": "an erasure request must be finished in the CRM by hand",
    "batch_unsupported": "a provider has no batch API: deferred calls ran directly at list price",
    "batch_failed": "a provider batch could not be submitted, read or deleted",
}
_ADDRESS = re.compile(r"[^\s<>()\[\]{}\"',;:]+@[^\s<>()\[\]{}\"',;:]+\.[A-Za-z]{2,}")
REMOVED = "[address removed]"


def scrub(text: str) -> str:
    """``text`` with anything shaped like an email address replaced (belt and braces)."""
    return _ADDRESS.sub(REMOVED, text)


@dataclass(frozen=True)
class Alert:
    """One message, before a channel formats it."""

    escalation_id: int | None
    headline: str
    about: str | None
    when: str
    links: tuple[tuple[str, str], ...]  # (label, url)

    def lines(self) -> list[str]:
        out = [self.headline]
        if self.about:
            out.append(f"About: {self.about}")
        out.append(self.when)
        return out


def compose(store: Store, escalation: Escalation, *, message: str, console_url: str) -> Alert:
    """The alert for an escalation: ``raised`` (it happened) or ``resolved`` (acknowledged)."""
    words = KIND_WORDS.get(escalation.kind, escalation.kind.replace("_", " "))
    base = console_url.rstrip("/")
    links = [("Open in the console", f"{base}/escalations#escalation-{escalation.id}")]
    about = None
    subject = escalation.subject or ""
    if subject.startswith("p_"):
        prospect = store.prospects.get(subject)
        company = prospect.company_name if prospect is not None else "a company no longer held"
        about = f"{company} ({subject})"
        links.append(("The prospect's timeline", f"{base}/prospects/{subject}"))
    elif subject.startswith("rights:"):
        about = f"rights request #{subject.removeprefix('rights:')}"
        links.append(("Rights requests", f"{base}/rights"))
    elif subject:
        about = subject
    if escalation.kind == "dead_letter":
        links.append(("The dead letters", f"{base}/dead-letters"))
    if message == "resolved":
        acknowledged = escalation.acknowledged_at
        headline = f"Resolved: escalation #{escalation.id} ({words}) was acknowledged"
        when = f"Acknowledged {acknowledged:%Y-%m-%d %H:%M} UTC" if acknowledged else "Acknowledged"
    else:
        headline = f"Escalation #{escalation.id}: {words}"
        when = f"Raised {escalation.created_at:%Y-%m-%d %H:%M} UTC; details and acknowledge in the console"
    return Alert(
        escalation.id,
        scrub(headline),
        scrub(about) if about else None,
        when,
        tuple((label, scrub(url)) for label, url in links),
    )


def probe_alert(console_url: str) -> Alert:
    """What ``gtm alerts test`` posts: proof the channel works, with the console's link."""
    return Alert(
        None,
        "gtm-pipeline: a test alert (escalations will arrive here)",
        None,
        "Sent by `gtm alerts test`",
        (("Open the console", f"{console_url.rstrip('/')}/escalations"),),
    )
