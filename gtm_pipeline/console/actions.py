"""What an operator can do from the console. Every action is a journal entry; state changes
go through the transition table (the same store methods the CLI uses)."""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from gtm_pipeline.domain.contracts import DraftFinding, result_model
from gtm_pipeline.domain.draft_policy import violations
from gtm_pipeline.domain.states import Decision
from gtm_pipeline.outreach.sender import schedule
from gtm_pipeline.pipeline.draft import build_context_pack, draft_first_touch
from gtm_pipeline.pipeline.privacy import record_request
from gtm_pipeline.pipeline.research import augment
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.store import ReviewItem

RETRY_STEPS = {
    "augment-profile": augment,
    "draft-first-touch": draft_first_touch,
    "context-pack": build_context_pack,
}


class ActionError(ValueError):
    """An action the operator asked for that cannot be done (with why)."""


@dataclass(frozen=True)
class Approval:
    decision: Decision | None  # None for an audit sample (the output already acted)
    edited_artifact: str | None
    touch_id: str | None


def edit_draft(services: Services, item: ReviewItem, subject: str, body: str, actor: str) -> str | None:
    """Store the operator's edited draft (of a pending review item) as a new artifact; journal the
    edit and its size.

    Returns None when the text is what the skill wrote (typed and undone): that is an approval
    as written, and must not count as an edit in the skill's graduation record."""
    store = services.store
    original = store.artifacts.get(item.artifact_id)
    if original is None or not original.content:
        raise ActionError("the draft is gone (erased?)")
    result = result_model(DraftFinding).model_validate_json(original.content)
    finding = result.finding.model_copy(update={"subject": subject.strip(), "body": body.strip()})
    try:
        finding = DraftFinding.model_validate(finding.model_dump())
    except ValueError as exc:
        raise ActionError(f"the edited draft is not valid: {exc}") from None
    prospect = store.prospects.get(item.prospect_id)
    assert prospect is not None
    broken = violations(finding, [*services.sender.domains, prospect.company_domain])
    if broken:
        raise ActionError("the edit breaks the output policy: " + "; ".join(broken))
    before = f"{result.finding.subject}\n{result.finding.body}"
    after = f"{finding.subject}\n{finding.body}"
    distance = Levenshtein.distance(before, after)
    if distance == 0:
        return None
    edited = result.model_copy(update={"finding": finding})
    artifact_id, _ = store.artifacts.add(
        prospect_id=item.prospect_id,
        kind="draft",
        content=edited.model_dump_json(),
        meta={**original.meta, "edited_from": original.id, "edited_by": actor},
        journal_entry_id=None,
        run_id=None,
    )
    store.journal.append(
        subject=item.prospect_id,
        kind="draft_edited",
        actor=actor,
        payload={
            "review_id": item.id,
            "from_artifact": original.id,
            "to_artifact": artifact_id,
            "edit_distance": distance,
            "skill": original.meta.get("skill"),
            "skill_version": original.meta.get("skill_version"),
        },
    )
    return artifact_id


def approve(
    services: Services,
    review_id: int,
    *,
    actor: str,
    reason: str = "approved",
    subject: str | None = None,
    body: str | None = None,
    schedule_send: bool = True,
) -> Approval:
    """Approve (optionally after an edit) and hand the draft to the send step at once.

    ``schedule_send=False`` (the CLI) leaves the prospect approved for the next send pass."""
    store = services.store
    item = store.reviews.get(review_id)
    if item is None or item.status != "pending":
        raise ActionError(f"review item #{review_id} is not pending")
    if item.kind == "audit_sample":
        store.reviews.close_audit_sample(review_id, ok=True, actor=actor, reason=reason)
        return Approval(None, None, None)  # an audit of an output that already acted: recorded only
    edited = None
    if subject is not None and body is not None:
        edited = edit_draft(services, item, subject, body, actor)
    try:
        decision = store.reviews.decide(
            review_id, approve=True, actor=actor, reason=reason, artifact_override=edited
        )
    except ValueError as exc:
        raise ActionError(str(exc)) from None
    if not decision.allowed:
        raise ActionError(decision.reason)
    if not schedule_send:
        return Approval(decision, edited, None)
    ledger = store.ledger
    schedule(store, ledger, services.sending, services.clock.now())
    touches = ledger.touches(item.prospect_id)
    return Approval(decision, edited, touches[-1].touch_id if touches else None)


def reject(services: Services, review_id: int, *, actor: str, reason: str) -> Decision | None:
    if not reason.strip():
        raise ActionError("a rejection needs a reason")
    item = services.store.reviews.get(review_id)
    if item is not None and item.kind == "audit_sample":
        services.store.reviews.close_audit_sample(review_id, ok=False, actor=actor, reason=reason.strip())
        return None
    if item is None or item.status != "pending":
        raise ActionError(f"review item #{review_id} is not pending")
    try:
        decision = services.store.reviews.decide(review_id, approve=False, actor=actor, reason=reason.strip())
    except ValueError as exc:
        raise ActionError(str(exc)) from None
    if not decision.allowed:
        raise ActionError(decision.reason)
    return decision


def retry_dead_letter(services: Services, dead_letter_id: int, *, actor: str) -> str:
    """Close the dead letter and run its step again now; returns the step's outcome."""
    row = services.store.dead_letters.resolve(
        dead_letter_id, actor=actor, action="retried", reason="operator retry"
    )
    step = RETRY_STEPS.get(str(row["skill"]))
    if step is None or not row["prospect_id"]:
        return "closed; the next pipeline run retries it"
    report = step(services, str(row["prospect_id"]))
    return f"{report.status} ({report.state})"


def discard_dead_letter(services: Services, dead_letter_id: int, *, actor: str, reason: str) -> None:
    services.store.dead_letters.resolve(
        dead_letter_id, actor=actor, action="discarded", reason=reason or "discarded"
    )


def record_rights_request(services: Services, *, kind: str, email: str) -> int:
    """Record a request received by mail or phone; only the address's hash is kept."""
    try:
        return record_request(
            services.store,
            kind=kind,
            email=email,
            now=services.clock.now(),
            response_days=services.settings.privacy.rights_response_days,
        )
    except ValueError as exc:
        raise ActionError(str(exc)) from None
