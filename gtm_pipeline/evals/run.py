"""Running a skill's eval set through the normal runner, on a scratch store.

Every case goes through :class:`SkillRunner` exactly as in the pipeline - the same request,
provider chain, retries, contract and evidence checks, dead letters - so an eval measures
what production would do. The runner writes into a *scratch* store (a temporary SQLite file)
so that eval calls never become a prospect's journal, a dead letter or an escalation the
operator must handle; only the eval's summary is journaled in the real store (see
:mod:`gtm_pipeline.evals.report`). Reply cases go through the whole reply classification
(deterministic rules first, then the skill). Latency is wall time per case around the call.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from gtm_pipeline.domain.clock import Clock
from gtm_pipeline.evals.cases import EvalSet, ReplyCase, SkillCase
from gtm_pipeline.evals.checks import Judgment, judge
from gtm_pipeline.outreach.classify import classify
from gtm_pipeline.outreach.mailparse import ParsedMail, parse_mail
from gtm_pipeline.providers.pricing import PriceTable
from gtm_pipeline.providers.routing import ProviderRouter
from gtm_pipeline.skills.catalog import Skill, SkillCatalog
from gtm_pipeline.skills.runner import SkillOutcome, SkillRunner
from gtm_pipeline.store import Store

STOP_CLASSES = frozenset({"unsubscribe", "complaint"})


class ProviderNotConfigured(LookupError):
    """``--provider`` names a family that has no key (or is switched off) here."""


@dataclass
class CaseResult:
    """One case: what happened on the runner and the verdict."""

    case_id: str
    lang: str
    judgment: Judgment
    skill_called: bool = False
    contract_ok: bool = True
    evidence_ok: bool = True
    failure: str | None = None  # the dead letter's kind and detail, when the skill gave no result
    latency_ms: float | None = None
    provider: str | None = None
    model: str | None = None
    fallback: bool = False
    decided_by: str | None = None

    @property
    def passed(self) -> bool:
        """Every expectation held. A skill case without a result has that as a problem; a reply
        whose skill call dead-lettered is judged on the category the reply path gave it (``other``),
        the dead letter itself counting against the contract or evidence rate."""
        return not self.judgment.problems


@dataclass
class EvalRun:
    """Every case's result and the scratch store's token ledger (all calls, retries included)."""

    skill: Skill
    eval_set: EvalSet
    cases: list[CaseResult]
    spend: list[dict[str, Any]] = field(default_factory=list)
    provider_override: str | None = None


def pinned(skill: Skill, provider: str) -> Skill:
    """``skill`` with its group's chain replaced by one provider (``gtm eval --provider``): the
    eval then measures that family alone, with no failover hiding its failures."""
    spec = skill.group.spec.model_copy(update={"providers": [provider]})
    return dataclasses.replace(skill, group=dataclasses.replace(skill.group, spec=spec))


class _RecordingRunner(SkillRunner):
    """The normal runner, keeping each outcome so the reply path's skill call can be scored."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outcomes: list[SkillOutcome] = []

    def run(self, skill: Skill, **kwargs: Any) -> SkillOutcome:
        outcome = super().run(skill, **kwargs)
        self.outcomes.append(outcome)
        return outcome


@contextmanager
def scratch_store(clock: Clock) -> Iterator[Store]:
    """A fresh store in a temporary folder, deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="gtm-eval-") as folder:
        store = Store.open(f"sqlite:///{Path(folder) / 'eval.sqlite'}", clock=clock)
        try:
            yield store
        finally:
            store.close()


def _score_outcome(result: CaseResult, outcome: SkillOutcome) -> None:
    result.skill_called = True
    if outcome.result is not None:
        producer = outcome.result.producer
        result.provider, result.model, result.fallback = producer.provider, producer.model, outcome.fallback
        return
    kind = outcome.failure.kind if outcome.failure else "waiting"
    detail = outcome.failure.detail if outcome.failure else (outcome.waiting or "no result")
    result.failure = f"{kind}: {detail[:300]}"
    result.contract_ok = kind not in ("invalid_json", "contract", "provider_error", "waiting")
    result.evidence_ok = False
    if outcome.reply is not None:
        result.provider, result.model = outcome.reply.provider, outcome.reply.model


def _skill_case(runner: SkillRunner, skill: Skill, case: SkillCase) -> CaseResult:
    started = time.perf_counter()
    outcome = runner.run(skill, subject=f"eval:{case.id}", inputs=case.inputs, sources=case.docs())
    result = CaseResult(case.id, case.lang, Judgment(), latency_ms=(time.perf_counter() - started) * 1000)
    _score_outcome(result, outcome)
    if outcome.result is not None:
        result.judgment = judge(case, outcome.result, skill.group.spec)
    else:
        result.judgment.fail(f"no result: {result.failure}")
    return result


def reply_mail(case: ReplyCase) -> ParsedMail:
    """The case as the raw email the receiver would store, parsed by the same code. A case that
    gives its own ``Content-Type`` (a delivery or abuse report) carries its MIME body as is."""
    headers = {
        "From": case.from_addr or "Sam Prospect <sam@prospect.example>",
        "To": "replies+t_eval@inbound.northwind-advisory.example",
        "Subject": case.subject,
        "Date": format_datetime(case.received_at),
        "Message-ID": f"<{case.id}@prospect.example>",
    }
    for name, value in case.headers.items():
        headers = {k: v for k, v in headers.items() if k.lower() != name.lower()} | {name: value}
    if not any(name.lower() == "content-type" for name in headers):
        message = EmailMessage()
        for name, value in headers.items():
            message[name] = value
        message.set_content(case.body)
        return parse_mail(message.as_bytes())
    lines = [
        f"{name}: {value if value.isascii() else Header(value, 'utf-8').encode()}"
        for name, value in headers.items()
    ]
    raw = "\r\n".join(
        [*lines, "MIME-Version: 1.0", "", case.body.replace("\r\n", "\n").replace("\n", "\r\n")]
    )
    return parse_mail(raw.encode("utf-8"))


def _reply_case(runner: _RecordingRunner, catalog: SkillCatalog, case: ReplyCase) -> CaseResult:
    before = len(runner.outcomes)
    started = time.perf_counter()
    verdict = classify(
        reply_mail(case), case.received_at, catalog=catalog, runner=runner, subject=f"eval:{case.id}"
    )
    elapsed = (time.perf_counter() - started) * 1000
    expect = case.expect
    judgment = Judgment(expected=expect.category, got=verdict.category)
    result = CaseResult(case.id, case.lang, judgment, decided_by=verdict.decided_by)
    if len(runner.outcomes) > before:
        result.latency_ms = elapsed
        _score_outcome(result, runner.outcomes[-1])
    if verdict.category != expect.category:
        judgment.fail(f"category: expected {expect.category}, got {verdict.category} ({verdict.decided_by})")
    for key in ("revisit_on", "resume_on", "referral_to"):
        if key in case.checked:
            want, got = getattr(expect, key), getattr(verdict, key)
            if isinstance(want, str) and isinstance(got, str):
                want, got = want.lower(), got.lower()
            if want != got:
                judgment.fail(f"{key}: expected {want}, got {got}")
    if (expect.category in STOP_CLASSES) != (verdict.category in STOP_CLASSES):
        judgment.fail("stop-class error", violation=True)
    return result


def run_eval(
    catalog: SkillCatalog,
    skill_name: str,
    eval_set: EvalSet,
    router: ProviderRouter,
    prices: PriceTable,
    clock: Clock,
    *,
    provider: str | None = None,
) -> EvalRun:
    """Run every case of ``eval_set`` on ``skill_name``'s current version (on one provider when
    ``provider`` is given), through the normal runner on a scratch store."""
    skill = catalog.skill(skill_name)
    if provider is not None:
        if provider not in router.providers:
            configured = ", ".join(sorted(router.providers)) or "none"
            raise ProviderNotConfigured(
                f"provider {provider!r} is not configured here (configured: {configured})"
            )
        skill = pinned(skill, provider)
        catalog = dataclasses.replace(catalog, skills={**catalog.skills, skill.name: skill})
    results: list[CaseResult] = []
    with scratch_store(clock) as store:
        runner = _RecordingRunner(store, router, prices, clock)
        for case in eval_set.cases:
            if isinstance(case, ReplyCase):
                results.append(_reply_case(runner, catalog, case))
            else:
                results.append(_skill_case(runner, skill, case))
        spend = store.spend.rows()
    return EvalRun(skill, eval_set, results, spend, provider)
