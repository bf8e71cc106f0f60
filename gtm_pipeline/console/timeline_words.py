"""The timeline's words: each journal event, journal kind and provider event as a phrase an
operator reads without knowing the state machine's names (kept apart from the story's assembly in
:mod:`gtm_pipeline.console.timeline`, so wording changes never touch how the story is built)."""

from __future__ import annotations

# Each event in words: what happened (the state it leads to is said after the arrow).
EVENT_WORDS = {
    "research_started": "Research started",
    "qualified": "Qualified by the hypothesis' rules",
    "disqualified": "Disqualified by the hypothesis' rules",
    "draft_created": "First email drafted",
    "draft_ready_for_review": "Draft sent for the operator's review",
    "draft_auto_approved": "Draft approved automatically (dark-factory group)",
    "no_reachable_contact": "No reachable person to write to",
    "draft_approved": "Draft approved",
    "draft_rejected": "Draft rejected",
    "operator_disqualified": "Disqualified by the operator",
    "operator_reopened": "Reopened by the operator",
    "conflict_resolved": "Account conflict resolved",
    "send_scheduled": "Email written to the outbox",
    "sent": "Email accepted by the provider",
    "delivered": "Email delivered",
    "delivery_delayed": "Delivery delayed",
    "soft_bounced": "Soft bounce (a temporary failure)",
    "hard_bounced": "Hard bounce (the address does not exist)",
    "reply_received": "Reply received",
    "out_of_office": "Out-of-office reply",
    "not_now_reply": "Reply: not now",
    "not_a_fit_reply": "Reply: not a fit",
    "contact_gone": "Reply: the person has left or the address is no longer read",
    "meeting_cancelled": "Meeting cancelled",
    "meeting_rescheduled": "Meeting moved to another time",
    "meeting_held": "Meeting held",
    "meeting_no_show": "The prospect did not come to the meeting",
    "meeting_booked": "Meeting booked",
    "deal_won": "Deal won",
    "deal_lost": "Deal lost",
    "unsubscribed": "Unsubscribed",
    "complained": "Marked as spam",
    "do_not_contact_requested": "Asked not to be contacted",
    "erased": "Personal data erased",
    "conflict_detected": "Account conflict detected",
    "no_reply_timeout": "No reply in time",
    "unresponsive_timeout": "Unresponsive after every touch",
    "revisit_due": "Time to revisit",
    "signal_reopened": "An awaited signal reopened it",
}
# Journal kinds other than transitions, in words.
KIND_WORDS = {
    "discovered": "Discovered",
    "skill_result": "Skill result",
    "fetch_refused": "Fetch refused",
    "fetch_skipped": "Fetch skipped",
    "contact_found": "Contact found",
    "addressee_chosen": "Addressee chosen",
    "draft_edited": "Draft edited by the operator",
    "audit_reviewed": "Audit sample reviewed",
    "conflict_noted": "Conflict noted",
    "signal_observed": "Signal observed",
    "signal_rejected": "Signal rejected",
    "send_refused": "Send refused",
    "source_failed": "Source failed",
    "dead_letter": "Dead letter",
    "erasure": "Erasure",
    "transition_rejected": "Transition refused",
}
# Provider events that are not a person's message, in words.
PROVIDER_WORDS = {
    "meeting.booked": "The scheduler reports a booking",
    "meeting.cancelled": "The scheduler reports a cancellation",
    "meeting.rescheduled": "The scheduler reports a new time",
    "meeting.held": "The scheduler reports the meeting's time has passed",
    "meeting.no_show": "The host marked a no-show",
    "meeting.no_show_cleared": "The host undid a no-show mark",
    "email.sent": "The provider confirmed the send",
    "email.delivered": "The receiving server accepted the email",
    "email.delivery_delayed": "The provider reports a delivery delay",
    "email.bounced": "The email bounced",
    "email.complained": "The recipient marked the email as spam",
    "email.opened": "The email was opened",
    "email.clicked": "A link in the email was clicked",
    "unsubscribe": "One-click unsubscribe",
}


def state_words(state: str | None) -> str:
    """A state as words (``awaiting_review`` -> ``awaiting review``)."""
    return (state or "?").replace("_", " ")


def event_words(event: str | None) -> str:
    return EVENT_WORDS.get(event or "", (event or "?").replace("_", " ").capitalize())
