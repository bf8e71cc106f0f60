"""The steps end to end without Dagster, on the bundled corpus and the offline provider."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from gtm_pipeline.domain.ids import prospect_id
from gtm_pipeline.domain.states import Event, State
from gtm_pipeline.pipeline.discover import discover
from gtm_pipeline.pipeline.research import augment, fetch_sources
from gtm_pipeline.pipeline.services import Services
from tests.conftest import HYPOTHESIS, STARTER
from tests.corpus import expected
from tests.helpers import run_all


def _state_of(services: Services, domain: str) -> State:
    prospect = services.store.prospects.get(prospect_id(domain))
    assert prospect is not None, domain
    return prospect.state


def test_discovery_registers_signal_companies_once(services: Services) -> None:
    report = discover(services, services.hypotheses[HYPOTHESIS])
    assert report.candidates == expected().candidates
    assert len(report.duplicates) == 1  # MediBridge under a second spelling
    assert prospect_id("medibridge-health.example") in report.registered
    for rejected in (
        "brightboard.example",
        "oakmont-health.example",
        "greenleaf-dental.example",
        "swiftcart.example",
    ):
        assert prospect_id(rejected) in report.rejected
    assert len(report.registered) == expected().prospects
    again = discover(services, services.hypotheses[HYPOTHESIS])
    assert again.registered == [] and sorted(again.already_known) == sorted(report.registered)


def test_the_pipeline_routes_every_prospect_to_the_right_state(services: Services) -> None:
    run_all(services)
    for domain in ("medibridge-health.example", "carepoint-clinics.example", "kestrel-billing.example"):
        assert _state_of(services, domain) is State.AWAITING_REVIEW
    for domain in (
        "ledgerly.example",  # fintech: outside the segment
        "auditly-health.example",  # competitor
        "tinyclinic.example",  # too small
        "meridian-health.example",  # being acquired
        "novacare-labs.example",  # below the rubric threshold
    ):
        assert _state_of(services, domain) is State.NOT_A_FIT
    assert _state_of(services, "sparrow-health.example") is State.RESEARCHING  # dead-lettered profile
    dead = services.store.dead_letters.open()
    assert [(d["prospect_id"], d["skill"]) for d in dead] == [
        (prospect_id("sparrow-health.example"), "augment-profile")
    ]
    assert len(services.store.reviews.pending()) == 13


@pytest.mark.parametrize(
    ("domain", "disqualifier"),
    [
        ("auditly-health.example", "competitor"),
        ("tinyclinic.example", "too_small"),
        ("meridian-health.example", "being_acquired"),
        ("ledgerly.example", "outside_segment"),
    ],
)
def test_disqualification_names_its_reason_in_the_journal(
    services: Services, domain: str, disqualifier: str
) -> None:
    run_all(services)
    entries = services.store.journal.entries(prospect_id(domain))
    transition = [e for e in entries if e.kind == "transition" and e.payload["to_state"] == "not_a_fit"]
    assert len(transition) == 1 and disqualifier in transition[0].payload["rationale"]
    assert transition[0].actor.startswith("rule:")
    skill_result = next(e for e in entries if e.kind == "skill_result" and "augment-profile" in e.actor)
    assert disqualifier in skill_result.payload["result"]["finding"]["disqualifiers_hit"]


def test_a_second_run_adds_nothing(services: Services) -> None:
    run_all(services)
    before = services.store.table_counts()
    run_all(services)
    assert services.store.table_counts() == before


def test_drafts_are_grounded_plain_and_link_free(services: Services) -> None:
    run_all(services)
    for review in services.store.reviews.pending():
        artifact = services.store.artifacts.get(review.artifact_id)
        assert artifact is not None and artifact.content is not None
        result = json.loads(artifact.content)
        body = result["finding"]["body"]
        assert not re.search(r"https?://|www\.", body)
        assert result["producer"]["provider"] == "offline"
        assert result["producer"]["group"] == "writing-copilot" and result["producer"]["mode"] == "copilot"
        assert result["evidence"], "a draft cites the signal it opens with"
        assert result["confidence"] <= 0.55


def test_every_state_change_is_journaled_with_its_actor(services: Services) -> None:
    run_all(services)
    pid = prospect_id("medibridge-health.example")
    kinds = [(e.kind, e.payload.get("to_state")) for e in services.store.journal.entries(pid)]
    assert ("discovered", "discovered") in kinds
    assert ("transition", "researching") in kinds
    assert ("transition", "qualified") in kinds
    assert ("transition", "awaiting_review") in kinds
    assert sum(1 for k, _ in kinds if k == "skill_result") == 4  # discover, augment, draft, context pack


def test_a_crash_between_profile_and_routing_heals_on_the_next_run(services: Services) -> None:
    report = discover(services, services.hypotheses[HYPOTHESIS])
    pid = prospect_id("carepoint-clinics.example")
    assert pid in report.registered
    fetch_sources(services, pid)
    original = services.store.prospects.apply_event

    def crash(*args: object, **kwargs: object) -> object:
        if args[1] in (Event.QUALIFIED, Event.DISQUALIFIED):  # (prospect id, event, ...)
            raise RuntimeError("process killed")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    services.store.prospects.apply_event = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        augment(services, pid)
    services.store.prospects.apply_event = original  # type: ignore[method-assign]
    assert _state_of(services, "carepoint-clinics.example") is State.RESEARCHING
    healed = augment(services, pid)
    assert healed.status == "unchanged" and healed.state == State.QUALIFIED.value


class _Counting:
    """The offline provider, counting calls per skill (to see what a re-run really recomputes)."""

    def __init__(self) -> None:
        from gtm_pipeline.providers.offline import OfflineProvider

        self.inner, self.name, self.model = OfflineProvider(), "offline", "extractive-v1"
        self.calls: dict[str, int] = {}

    def complete(self, request):  # type: ignore[no-untyped-def]
        self.calls[request.skill] = self.calls.get(request.skill, 0) + 1
        return self.inner.complete(request)


def test_a_new_skill_version_rescores_exactly_the_stale_work(
    gtm_home: object, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    from pathlib import Path

    from gtm_pipeline.config import load_settings
    from gtm_pipeline.providers.routing import ProviderRouter

    skills = Path(str(tmp_path)) / "skills"
    shutil.copytree(STARTER / "skills", skills)
    monkeypatch.setenv("GTM_SKILLS_DIR", str(skills))

    def fresh() -> tuple[Services, _Counting]:
        counting = _Counting()
        services = Services.from_settings(load_settings())
        services.router = ProviderRouter({"offline": counting})  # type: ignore[dict-item]
        return services, counting

    services, counting = fresh()
    run_all(services)
    assert counting.calls["augment-profile"] == 21 + 2  # the dead-lettered profile took its two attempts
    services.close()

    services, counting = fresh()
    run_all(services)
    assert counting.calls == {}  # nothing stale: no call at all
    services.close()

    path = skills / "research" / "augment-profile" / "SKILL.md"
    path.write_text(path.read_text().replace("version: 1.0.0", "version: 1.1.0"))
    services, counting = fresh()
    run_all(services)
    active = [
        p for p in services.store.prospects.find() if p.state.value in ("awaiting_review", "researching")
    ]
    # every active profile is re-scored (the dead letter with its two attempts again); drafts whose
    # inputs did not change are not redrafted, and disqualified prospects are left alone
    assert counting.calls == {"augment-profile": len(active) + 1}
    services.close()


def test_the_sample_corpus_is_the_one_it_was_built_to_be() -> None:
    from tests.corpus import BUILT

    assert expected() == BUILT


def test_a_signal_counts_only_with_the_date_of_the_fetched_source_it_cites(services: Services) -> None:
    from gtm_pipeline.pipeline.research import profile_result, signals_in_window, stored_sources

    run_all(services)
    pid = prospect_id("medibridge-health.example")
    (profile,) = services.store.artifacts.of_kind(pid, "profile")
    result = profile_result(profile)
    sources = stored_sources(services, pid)
    as_of = max(d.retrieved_at for d in sources).date()
    assert signals_in_window(result, as_of, 180, sources) >= 1

    def forged(**change: object) -> object:
        signals = [s.model_copy(update=change) for s in result.finding.signals]
        return result.model_copy(update={"finding": result.finding.model_copy(update={"signals": signals})})

    undated = next(d for d in sources if d.published_on is None)
    # a model that dates an undated page "today", or moves a real page's date, qualifies nothing
    assert signals_in_window(forged(source_id=undated.source_id, date=as_of), as_of, 180, sources) == 0  # type: ignore[arg-type]
    assert signals_in_window(forged(source_id="web/elsewhere.example/"), as_of, 180, sources) == 0  # type: ignore[arg-type]
    moved = [s.model_copy(update={"date": s.date + dt.timedelta(days=1)}) for s in result.finding.signals]
    later = result.model_copy(update={"finding": result.finding.model_copy(update={"signals": moved})})
    assert signals_in_window(later, as_of, 180, sources) == 0
