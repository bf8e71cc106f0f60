"""Graduation needs a passing eval of the current version (issue 18, item 3): the review record
alone no longer promotes a skill, a new version starts unproven, and the skills page shows both."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from gtm_pipeline.app import create_app
from gtm_pipeline.cli.common import CommandError
from gtm_pipeline.config import load_settings
from gtm_pipeline.console import graduation
from gtm_pipeline.console.graduation import SkillStats
from gtm_pipeline.evals import journal_eval, load_eval_set, run_eval, verdict
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.skills.catalog import load_catalog
from tests.conftest import STARTER

PASSWORD = "a long passphrase"


def _good_record(skill: str, version: str = "1.0.0") -> SkillStats:
    return SkillStats(skill, version, "writing-copilot", 25, 24, 2, 1, 0, 3.0, ["wrong person"])


@pytest.fixture
def services(gtm_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    skills = tmp_path / "skills"
    shutil.copytree(STARTER / "skills", skills)
    monkeypatch.setenv("GTM_SKILLS_DIR", str(skills))
    monkeypatch.setenv("GTM_OPERATOR_PASSWORD", PASSWORD)
    monkeypatch.setenv("GTM_OPERATOR", "ana")
    svc = Services.from_settings(load_settings())
    yield svc
    svc.close()


def _eval(services: Services, skill: str) -> dict[str, object]:
    catalog = load_catalog(services.catalog.root)
    run = run_eval(
        catalog, skill, load_eval_set(catalog.skill(skill)), services.router, services.prices, services.clock
    )
    summary = verdict(run)
    journal_eval(services.store, summary, actor="operator:ana")
    return summary


def test_a_good_review_record_without_an_eval_is_not_enough(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = services.catalog
    record = _good_record("context-pack")
    assert graduation.review_blockers(record, catalog, "context-pack") == []
    assert graduation.promotion_blockers(record, catalog, "context-pack") == [
        "no eval of context-pack@1.0.0 yet: run `gtm eval context-pack`"
    ]
    monkeypatch.setattr(graduation, "stats_for", lambda *_args: record)
    with pytest.raises(graduation.GraduationError, match=r"no eval of context-pack@1\.0\.0 yet"):
        graduation.move_skill(
            services.store, catalog, "context-pack", direction="promote", actor="operator:ana"
        )
    assert load_catalog(catalog.root).skill("context-pack").group.spec.name == "writing-copilot"

    summary = _eval(services, "context-pack")
    assert summary["passed"]
    evaluation = graduation.latest_eval(services.store, catalog, "context-pack")
    assert evaluation is not None and evaluation.current and evaluation.version == "1.0.0"
    assert graduation.promotion_blockers(record, catalog, "context-pack", evaluation) == []
    promoted = graduation.move_skill(
        services.store, catalog, "context-pack", direction="promote", actor="operator:ana"
    )
    assert promoted.skill("context-pack").group.spec.name == "writing-dark-factory"
    moved = [e for e in services.store.journal.entries("skill:context-pack") if e.kind == "skill_promoted"]
    assert moved[0].payload["eval"]["entry_id"] == evaluation.entry_id
    assert moved[0].payload["eval"]["models"] == ["offline/extractive-v1"]
    assert moved[0].payload["eval"]["accuracy"] == summary["accuracy"]


def test_a_new_version_starts_unproven(services: Services) -> None:
    _eval(services, "draft-first-touch")
    catalog = load_catalog(services.catalog.root)
    proven = graduation.latest_eval(services.store, catalog, "draft-first-touch")
    assert proven is not None and graduation.eval_blockers(proven, catalog, "draft-first-touch") == []
    skill_file = catalog.skill("draft-first-touch").path
    skill_file.write_text(skill_file.read_text().replace("version: 1.0.0", "version: 1.1.0"))
    bumped = load_catalog(catalog.root)
    evaluation = graduation.latest_eval(services.store, bumped, "draft-first-touch")
    assert evaluation is not None and not evaluation.current
    assert graduation.eval_blockers(evaluation, bumped, "draft-first-touch") == [
        "the last eval was of 1.0.0 (another version or text): draft-first-touch@1.1.0 is unproven: "
        "run `gtm eval draft-first-touch`"
    ]
    # the same version with another text is unproven too: the eval judged other instructions
    skill_file.write_text(
        skill_file.read_text().replace("version: 1.1.0", "version: 1.0.0") + "\nBe brief.\n"
    )
    edited = load_catalog(catalog.root)
    again = graduation.latest_eval(services.store, edited, "draft-first-touch")
    assert again is not None and not again.current


def test_the_groups_eval_bar_is_applied_when_promotion_is_judged(services: Services) -> None:
    summary = _eval(services, "draft-first-touch")
    assert summary["accuracy"] is not None and summary["accuracy"] < 1.0  # one hard case fails offline
    group = services.catalog.root / "writing-copilot" / "GROUP.md"
    group.write_text(group.read_text().replace("eval_min_accuracy: 0.9", "eval_min_accuracy: 1.0"))
    catalog = load_catalog(services.catalog.root)
    evaluation = graduation.latest_eval(services.store, catalog, "draft-first-touch")
    (blocker,) = graduation.eval_blockers(evaluation, catalog, "draft-first-touch")
    assert blocker.startswith(
        "eval of draft-first-touch@1.0.0 on offline/extractive-v1 fails the bar: accuracy"
    )
    assert "< 100%" in blocker


def _row(html: str, row_id: str) -> str:
    start = html.index(f'id="{row_id}"')
    return html[start : html.index("</tr>", start)]


def test_the_skills_page_shows_the_review_record_and_the_eval(services: Services) -> None:
    with TestClient(create_app(services.settings, services=services)) as client:
        assert client.post("/login", data={"password": PASSWORD}).status_code in (200, 303)
        row = _row(client.get("/skills").text, "skill-context-pack")
        assert "unproven" in row and "(no eval yet)" in row
        assert (
            '<li class="blocker">no eval of context-pack@1.0.0 yet: run `gtm eval context-pack`</li>' in row
        )
        assert "The eval bar: at least 90% of cases passed, contract rate at least 95%" in row
        summary = _eval(services, "context-pack")
        row = _row(client.get("/skills").text, "skill-context-pack")
        assert re.search(r'<span class="eval-passed">passed</span> \S+ \S+ on offline/extractive-v1', row)
        assert f"of {summary['cases']} cases" in row and "no eval of" not in row
        assert '<li class="blocker">no reviewed drafts yet: 20 reviews needed</li>' in row  # both shown
        research = _row(client.get("/skills").text, "skill-augment-profile")
        assert "(no eval yet)" in research and "The eval bar" not in research  # no group to promote to


def test_at_the_terminal_promotion_is_refused_until_gtm_eval_passes(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gtm_pipeline.cli.evaluate  # noqa: F401  (the lead registers it in cli/__init__.py)
    from gtm_pipeline.cli import app

    runner = CliRunner()
    refused = runner.invoke(app, ["skills", "promote", "context-pack"])
    assert isinstance(refused.exception, CommandError)
    assert "no reviewed drafts yet" in str(refused.exception) and "no eval of context-pack@1.0.0" in str(
        refused.exception
    )
    monkeypatch.setattr(graduation, "stats_for", lambda *_args: _good_record("context-pack"))
    refused = runner.invoke(app, ["skills", "promote", "context-pack"])
    assert str(refused.exception) == (
        "context-pack not promoted: no eval of context-pack@1.0.0 yet: run `gtm eval context-pack`"
    )
    assert runner.invoke(app, ["eval", "context-pack"]).exit_code == 0
    shown = runner.invoke(app, ["skills", "status", "--json"]).output
    status = json.loads(shown[shown.index("[") :])
    row = next(r for r in status if r["skill"] == "context-pack")
    assert row["eval"]["current"] and row["blockers"] == []
    done = runner.invoke(app, ["skills", "promote", "context-pack"])
    assert done.exit_code == 0 and "context-pack promoted to writing-dark-factory" in done.output
    assert load_catalog(services.catalog.root).skill("context-pack").group.spec.name == "writing-dark-factory"
    text = runner.invoke(app, ["skills", "status"]).output
    assert "context-pack@1.0.0 writing-dark-factory (dark-factory)" in text


def test_the_bundled_demo_skills_are_never_moved_from_the_terminal(gtm_home: Path) -> None:
    import gtm_pipeline.cli.evaluate  # noqa: F401
    from gtm_pipeline.cli import app

    refused = CliRunner().invoke(app, ["skills", "demote", "draft-first-touch"])
    assert isinstance(refused.exception, CommandError) and "bundled demo skills" in str(refused.exception)


def test_a_groups_outcome_floor_blocks_promotion_until_enough_touched_prospects_book_meetings(
    services: Services,
) -> None:
    """GROUP.md's ``promote_min_meeting_rate`` joins the bar: no floor set, no outcome blocker; set,
    a version with too few touched prospects or too few meetings among them is not promotable."""
    from gtm_pipeline.funnel.outcomes import OutcomeRecord

    skill = "draft-first-touch"
    assert graduation.outcome_blockers(None, services.catalog, skill) == []  # the starter sets none
    group_md = services.catalog.skill(skill).group.path
    text = group_md.read_text()
    group_md.write_text(
        text.replace("promote_min_reviews:", "promote_min_meeting_rate: 0.05\npromote_min_reviews:")
    )
    catalog = load_catalog(services.catalog.root)
    assert catalog.skill(skill).group.spec.promote_min_meeting_rate == 0.05

    def record(touched: int, meetings: int) -> OutcomeRecord:
        return OutcomeRecord(skill, "1.0.0", "writing-copilot", touched, meetings, 0)

    assert graduation.outcome_blockers(None, catalog, skill)  # nobody written to yet
    assert graduation.outcome_blockers(record(10, 5), catalog, skill)  # a small sample is not evidence
    assert graduation.outcome_blockers(record(40, 1), catalog, skill)  # 2.5 % < 5 %
    assert graduation.outcome_blockers(record(40, 4), catalog, skill) == []  # 10 % clears the floor
    blockers = graduation.promotion_blockers(_good_record(skill), catalog, skill, None, record(40, 1))
    assert any("meeting" in b for b in blockers)
