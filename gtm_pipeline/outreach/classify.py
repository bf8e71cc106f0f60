"""Reply classification in two layers: rules first, then the classify-reply skill.

Layer 1 (deterministic, :mod:`machine_mail` and :mod:`reply_rules`): bounces, complaints,
auto-replies, out-of-office and gone-from-this-address notices, then stop requests and
complaints in the newest text, then a contact gone ("has left the company", with the
replacement address kept as a referral) and a human-typed absence ("back in June").
Layer 2 (the ``classify-reply`` skill, contract-validated, evidence checked against the
reply itself): interested, question, referral, not now, not a fit, other. A not-now
revisit date is resolved by plain code from the reply's own date ("circle back in Q3").
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from typing import Any

from gtm_pipeline.domain.contracts import ReplyClassificationFinding
from gtm_pipeline.domain.ids import content_hash
from gtm_pipeline.domain.signals import kinds_named
from gtm_pipeline.domain.sources import SourceDoc
from gtm_pipeline.outreach.dates import absence_return, revisit_date
from gtm_pipeline.outreach.machine_mail import classify_machine
from gtm_pipeline.outreach.mailparse import ParsedMail
from gtm_pipeline.outreach.reply_rules import (
    absence_verdict,
    gone_verdict,
    newest_text,
    replacement_address,
    rule_verdict,
)
from gtm_pipeline.skills.catalog import SkillCatalog
from gtm_pipeline.skills.runner import SkillRunner

CLASSIFY_SKILL = "classify-reply"
OOO_DEFAULT_DAYS = 14
NOT_NOW_DEFAULT_DAYS = 90


@dataclass(frozen=True)
class Classification:
    """The category of one inbound message and who decided it."""

    category: str
    decided_by: str
    human: bool
    hard_bounce: bool | None = None
    resume_on: dt.date | None = None
    revisit_on: dt.date | None = None
    referral_to: str | None = None
    erasure_requested: bool = False
    confidence: float | None = None
    signal: str | None = None
    revisit_when: tuple[str, ...] = ()  # kinds of signal the reply says it waits for ("after our Series B")

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("resume_on", "revisit_on"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data


def _first_address(text: str) -> str | None:
    match = re.search(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", text)
    return match.group(0).rstrip(".") if match else None


def deterministic(mail: ParsedMail, received: dt.date) -> Classification | None:
    """Layer 1: what mail mechanics and compliance decide without a model."""
    machine = classify_machine(mail, received)
    if machine is not None:
        if machine.kind == "out_of_office":
            resume = machine.resume_on or received + dt.timedelta(days=OOO_DEFAULT_DAYS)
            return Classification("out_of_office", machine.rule, False, resume_on=resume)
        if machine.kind == "bounce":
            return Classification("bounce", machine.rule, False, hard_bounce=machine.hard)
        if machine.kind == "unreachable":
            referral = replacement_address(newest_text(mail.text), mail.from_address)
            return Classification("unreachable", machine.rule, False, referral_to=referral)
        return Classification(machine.kind, machine.rule, False)
    newest = newest_text(mail.text)
    verdict = rule_verdict(mail.subject, newest)
    if verdict is not None:
        return Classification(
            verdict.category,
            verdict.rule,
            True,
            erasure_requested=verdict.erasure_requested,
            signal=verdict.matched,
        )
    gone = gone_verdict(mail.subject, newest, mail.from_address)
    if gone is not None:
        return Classification(
            "unreachable", gone.rule, True, referral_to=gone.referral_to, signal=gone.matched
        )
    absence = absence_verdict(mail.subject, newest)
    if absence is not None:
        resume = absence_return(newest, received) or received + dt.timedelta(days=OOO_DEFAULT_DAYS)
        return Classification("out_of_office", absence.rule, False, resume_on=resume, signal=absence.matched)
    return None


def reply_source(mail: ParsedMail, received_at: dt.datetime, source_id: str) -> SourceDoc:
    """The newest text of a reply as the one source the skill may quote."""
    text = newest_text(mail.text) or mail.text.strip() or "(empty reply)"
    return SourceDoc(
        source_id=source_id,
        url=f"mail:{source_id}",
        kind="reply",
        title=mail.subject[:200],
        text=text,
        published_on=received_at.date(),
        retrieved_at=received_at,
        content_hash=content_hash(text),
    )


def classify(
    mail: ParsedMail,
    received_at: dt.datetime,
    *,
    catalog: SkillCatalog | None,
    runner: SkillRunner | None,
    subject: str,
    prospect_id: str | None = None,
) -> Classification:
    """Both layers. Without a runner (or when the skill dead-letters) a human reply is ``other``."""
    received = received_at.date()
    decided = deterministic(mail, received)
    if decided is not None:
        return decided
    if catalog is None or runner is None:
        return Classification("other", "rule:no-skill", True)
    source = reply_source(mail, received_at, f"reply:{content_hash(mail.text)[:16]}")
    skill = catalog.skill(CLASSIFY_SKILL)
    outcome = runner.run(
        skill,
        subject=subject,
        inputs={"received_on": received.isoformat(), "subject": mail.subject[:200]},
        sources=[source],
        prospect_id=prospect_id,
    )
    if outcome.result is None:
        return Classification("other", f"skill:{skill.name}@{skill.version}:dead-letter", True)
    finding = outcome.result.finding
    assert isinstance(finding, ReplyClassificationFinding)
    decided_by = f"skill:{skill.name}@{skill.version}"
    revisit = None
    if finding.category == "not_now":
        revisit = (
            revisit_date(source.text, received)
            or finding.revisit_on
            or received + dt.timedelta(days=NOT_NOW_DEFAULT_DAYS)
        )
    return Classification(
        finding.category,
        decided_by,
        finding.category not in ("bounce", "out_of_office", "unreachable"),
        revisit_on=revisit,
        revisit_when=tuple(k for k in kinds_named(source.text) if k != "public_statement")
        if finding.category == "not_now"
        else (),
        referral_to=finding.referral_to
        or (_first_address(source.text) if finding.category in ("referral", "unreachable") else None),
        confidence=outcome.result.confidence,
        signal=outcome.result.evidence[0].quote[:200] if outcome.result.evidence else None,
        resume_on=received + dt.timedelta(days=OOO_DEFAULT_DAYS)
        if finding.category == "out_of_office"
        else None,
    )
