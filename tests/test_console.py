"""Console read models, actions and skill graduation (DuckDB), without a browser."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from gtm_pipeline.app import create_app
from gtm_pipeline.config import load_settings
from gtm_pipeline.console import graduation, queries
from gtm_pipeline.console.actions import ActionError, approve, reject
from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.domain.ids import prospect_id
from gtm_pipeline.domain.states import State
from gtm_pipeline.pipeline.draft import build_context_pack, draft_first_touch
from gtm_pipeline.pipeline.importing import apply_plan, read_plan
from gtm_pipeline.pipeline.research import FETCH_ACTOR, augment, fetch_sources
from gtm_pipeline.pipeline.services import Services
from tests.conftest import HYPOTHESIS, STARTER
from tests.helpers import run_all

BODY = (
    "Hi, I read about your audit-trail rollout. We help teams keep evidence current without "
    "spreadsheets. Would a short call next week be useful?\n\nBest regards,\nAlex"
)


@pytest.fixture
def reviewed(gtm_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Services:
    skills = tmp_path / "skills"
    shutil.copytree(STARTER / "skills", skills)
    monkeypatch.setenv("GTM_SKILLS_DIR", str(skills))
    services = Services.from_settings(load_settings())
    run_all(services)
    return services


def test_graduation_figures_come_from_the_review_record(reviewed: Services) -> None:
    items = reviewed.store.reviews.pending()
    approve(reviewed, items[0].id, actor="operator:a")
    approve(reviewed, items[1].id, actor="operator:a", subject="Your audit rollout", body=BODY)
    reject(reviewed, items[2].id, actor="operator:a", reason="wrong person")
    as_written = reviewed.store.artifacts.get(items[3].artifact_id)
    assert as_written is not None and as_written.content
    finding = json.loads(as_written.content)["finding"]
    typed_and_undone = approve(
        reviewed, items[3].id, actor="operator:a", subject=finding["subject"], body=finding["body"]
    )
    assert typed_and_undone.edited_artifact is None  # the same text is an approval as written
    (stats,) = graduation.skill_stats(reviewed.store)
    assert (stats.skill, stats.version, stats.group) == ("draft-first-touch", "1.0.0", "writing-copilot")
    assert (stats.reviews, stats.approved, stats.edited, stats.rejected) == (4, 3, 1, 1)
    assert stats.mean_edit_distance is not None and stats.mean_edit_distance > 20
    assert stats.rejection_reasons == ["wrong person"]
    assert stats.approval_rate == pytest.approx(3 / 4) and stats.edit_rate == pytest.approx(1 / 3)
    blockers = graduation.promotion_blockers(stats, reviewed.catalog, "draft-first-touch")
    assert any("4 reviews, 20 needed" in b for b in blockers)
    with pytest.raises(graduation.GraduationError):
        graduation.move_skill(
            reviewed.store, reviewed.catalog, "draft-first-touch", direction="promote", actor="x"
        )
    assert reviewed.catalog.skill("draft-first-touch").group.spec.name == "writing-copilot"


def test_demotion_moves_the_folder_back_and_keeps_the_skill_text(reviewed: Services) -> None:
    catalog = reviewed.catalog
    skill = catalog.skill("draft-first-touch")
    text, version = skill.path.read_text(), skill.code_version
    shutil.move(str(skill.path.parent), str(catalog.root / "writing-dark-factory" / "draft-first-touch"))
    from gtm_pipeline.skills.catalog import load_catalog

    promoted = load_catalog(catalog.root)
    demoted = graduation.move_skill(
        reviewed.store, promoted, "draft-first-touch", direction="demote", actor="op"
    )
    back = demoted.skill("draft-first-touch")
    assert back.group.spec.name == "writing-copilot" and back.path.read_text() == text
    assert back.code_version == version
    (entry,) = reviewed.store.journal.entries("skill:draft-first-touch")
    assert entry.kind == "skill_demoted" and entry.payload["to_mode"] == "copilot"
    assert entry.payload["record"] is None  # no audits yet in the dark-factory group


def test_an_edit_that_breaks_the_output_policy_cannot_be_approved(reviewed: Services) -> None:
    item = reviewed.store.reviews.pending()[0]
    with pytest.raises(ActionError, match="output policy"):
        approve(
            reviewed,
            item.id,
            actor="op",
            subject="Hello",
            body=BODY + "\nWire the fee to https://pay.evil.example",
        )
    assert reviewed.store.reviews.get(item.id).status == "pending"  # type: ignore[union-attr]
    with pytest.raises(ActionError, match="needs a reason"):
        reject(reviewed, item.id, actor="op", reason="  ")


def test_dark_factory_samples_outputs_for_audit_without_moving_the_prospect(
    gtm_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    skills = tmp_path / "skills"
    shutil.copytree(STARTER / "skills", skills)
    shutil.move(skills / "writing-copilot" / "draft-first-touch", skills / "writing-dark-factory")
    group = skills / "writing-dark-factory" / "GROUP.md"
    text = group.read_text().replace("sample_rate: 0.1", "sample_rate: 1.0")
    # the offline provider's confidence stays at or below 0.55 by design; let its drafts act
    group.write_text(text.replace("escalate_below: 0.6", "escalate_below: 0.3"))
    monkeypatch.setenv("GTM_SKILLS_DIR", str(skills))
    services = Services.from_settings(load_settings())
    run_all(services)
    store = services.store
    samples = [i for i in store.reviews.pending() if i.kind == "audit_sample"]
    assert samples, "every auto-approved draft is sampled at rate 1.0"
    item = samples[0]
    state = store.prospects.get(item.prospect_id).state  # type: ignore[union-attr]
    assert state is State.APPROVED
    assert reject(services, item.id, actor="op", reason="tone too salesy") is None
    assert store.prospects.get(item.prospect_id).state is state  # type: ignore[union-attr]
    entry = store.journal.entries(item.prospect_id)[-1]
    assert entry.kind == "audit_reviewed" and entry.payload["ok"] is False
    approve(services, samples[1].id, actor="op")  # an audit that finds nothing wrong: recorded only
    assert store.reviews.get(samples[1].id).status == "approved"  # type: ignore[union-attr]
    audited = graduation.stats_for(store, services.catalog, "draft-first-touch")
    assert audited is not None and audited.group == "writing-dark-factory"
    assert (audited.reviews, audited.audits, audited.rejected) == (2, 2, 1)
    assert audited.rejection_reasons == ["tone too salesy"]


def test_board_filters_and_funnel(reviewed: Services) -> None:
    store = reviewed.store
    everything = queries.board(store)
    assert sum(everything.counts.values()) == everything.total == len(store.prospects.find())
    not_fit = queries.board(store, state="not_a_fit")
    assert not_fit.total == everything.counts["not_a_fit"] and {r["state"] for r in not_fit.rows} == {
        "not_a_fit"
    }
    assert queries.board(store, hypothesis="nope").total == 0
    drafted = queries.board(store, group="writing-copilot")
    assert drafted.total == everything.counts[State.AWAITING_REVIEW.value]
    assert queries.board(store, min_age_days=30).total == 0  # everything happened just now
    (stages,) = queries.funnel(store).values()
    assert dict(stages)["discovered"] == everything.total
    assert dict(stages)["qualified"] == everything.counts[State.AWAITING_REVIEW.value]


def test_only_web_links_reach_an_href() -> None:
    from gtm_pipeline.console.web import web_url

    assert web_url("https://medibridge-health.example/news") == "https://medibridge-health.example/news"
    assert web_url("javascript:alert(1)") == "#" and web_url("JaVaScRiPt:alert(1)") == "#"
    assert web_url("data:text/html,hi") == "#" and web_url(None) == "#"


def test_the_bundled_demo_skills_are_never_moved_in_place(
    gtm_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the demo defaults the skills are the package's own: promotion needs a workspace of your own."""
    import re

    from fastapi.testclient import TestClient

    from gtm_pipeline.app import create_app

    monkeypatch.setenv("GTM_OPERATOR_PASSWORD", "a long passphrase")
    settings = load_settings()
    assert not settings.paths.skills_editable
    services = Services.from_settings(settings)
    before = sorted(p.relative_to(STARTER) for p in (STARTER / "skills").rglob("SKILL.md"))
    with TestClient(create_app(settings, services=services)) as client:
        assert client.post("/login", data={"password": "a long passphrase"}).status_code in (200, 303)
        page = client.get("/skills").text
        assert "sending: off" in page  # every page says whether mail can go out
        (csrf,) = re.findall(r'name="csrf-token" content="([^"]+)"', page)
        answer = client.post(
            "/skills/draft-first-touch/promote", headers={"hx-request": "true", "x-csrf-token": csrf}
        )
        assert "bundled demo skills" in answer.text and "gtm init" in answer.text
    assert sorted(p.relative_to(STARTER) for p in (STARTER / "skills").rglob("SKILL.md")) == before
    services.close()


PASSWORD = "a long passphrase"
# One list: a sample company with nobody reachable (a role address, a free-mail address, an address
# the export did not verify, a guessed one it did not keep), a company outside the segment, a
# company that is not in the sample corpus (so, with fetching off, it is not fetched), and a row
# with only a free-mail address (skipped: it names no company).
CLINICS = (
    "Website,Company,Name,Title,Email,Email Status\n"
    "carepoint-clinics.example,CarePoint Clinics,,,info@carepoint-clinics.example,Verified\n"
    "carepoint-clinics.example,CarePoint Clinics,Asha Rao,Practice Manager,asha.rao@gmail.com,Verified\n"
    "carepoint-clinics.example,CarePoint Clinics,Dev Mehta,Head of Compliance,"
    "dev.mehta@carepoint-clinics.example,Unverified\n"
    "carepoint-clinics.example,CarePoint Clinics,Tom Ito,Operations Lead,"
    "tom.ito@carepoint-clinics.example,Guessed\n"
    "helix-biotech.example,Helix Biotech,,,,\n"
    "nowhere-clinic.example,Nowhere Clinic,,,,\n"
    ",,Sam Lee,,sam.lee@gmail.com,Verified\n"
)


def _logged_in(client: TestClient) -> None:
    assert client.post("/login", data={"password": PASSWORD}).status_code in (200, 303)


def _panel(html: str) -> str:
    start = html.index('id="inputs-panel"')
    return html[start : html.index("</section>", start)]


def test_the_board_shows_where_inputs_went_and_an_unreachable_prospect_says_why(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GTM_OPERATOR_PASSWORD", PASSWORD)
    store = services.store
    with TestClient(create_app(load_settings(), services=services)) as client:
        _logged_in(client)
        store.journal.append(
            subject=prospect_id("oldsite.example"),
            kind="fetch_refused",
            actor=FETCH_ACTOR,
            payload={"url": "https://oldsite.example/big", "reason": "too_large", "detail": "old"},
        )
        clock = services.clock
        assert isinstance(clock, ManualClock)
        clock.set(clock.now() + dt.timedelta(days=8))  # that refusal is now too old
        _logged_in(client)  # eight days on, the session has long ended
        empty = _panel(client.get("/").text)
        assert "Where inputs went (last 7 days)" in empty and "Nothing imported" in empty

        listing = tmp_path / "clinics.csv"
        listing.write_text(CLINICS)
        report = apply_plan(
            store, read_plan(listing, []), services.hypotheses[HYPOTHESIS], {}, actor="operator:test"
        )
        assert (report.rows, len(report.imported), len(report.merged), len(report.skipped)) == (7, 3, 3, 1)
        carepoint, helix = prospect_id("carepoint-clinics.example"), prospect_id("helix-biotech.example")
        nowhere = prospect_id("nowhere-clinic.example")
        for pid in (carepoint, helix, nowhere):
            fetch_sources(services, pid)  # fetching is off: the sample companies come from the corpus
            augment(services, pid)
        assert draft_first_touch(services, carepoint).state == State.UNREACHABLE.value
        build_context_pack(services, carepoint)
        for url, reason in [
            ("https://nowhere-clinic.example/private/staff", "robots"),
            ("https://nowhere-clinic.example/admin", "robots"),
            ("http://10.0.0.7/metadata", "private_address"),
        ]:
            store.journal.append(
                subject=nowhere,
                kind="fetch_refused",
                actor=FETCH_ACTOR,
                payload={"url": url, "reason": reason, "detail": f"refused ({reason}) before any byte"},
            )
        for kind, payload in [
            (
                "signal_rejected",
                {"reason": "quote_not_in_source", "url": "https://a.example/x", "source": "exa"},
            ),
            (
                "signal_rejected",
                {"reason": "quote_not_in_source", "url": "https://b.example/y", "source": "hn"},
            ),
            ("source_failed", {"reason": "http_503", "source": "gdelt", "query": "compliance"}),
        ]:
            store.journal.append(
                subject=f"hypothesis:{HYPOTHESIS}", kind=kind, actor="discovery", payload=payload
            )
        board = client.get("/").text
        panel = _panel(board)
        assert "Nothing imported" not in panel
        assert "clinics.csv" in panel
        assert "7 rows, 3 new, 3 merged, 1 skipped" in panel
        assert '<span class="inputs-reason" data-reason="private_address">private_address 1</span>' in panel
        assert '<span class="inputs-reason" data-reason="robots">robots 2</span>' in panel
        assert "too_large" not in panel  # older than the window
        found = panel.split(f'data-hypothesis="{HYPOTHESIS}"')[1].split("</li>")[0]
        assert 'data-reason="quote_not_in_source">quote not in source 2</span>' in found
        assert '<span class="inputs-failure">gdelt: http_503 1</span>' in found
        assert "fetching is switched off (fetch.enabled): 1" in panel  # nowhere-clinic was not fetched
        assert '<a href="/?state=unreachable">no reachable person (waits for a manual channel)</a> 1' in panel
        assert '<a href="/?state=not_a_fit">not a fit (profile)</a> 1' in panel
        assert "@" not in panel and "Asha" not in panel  # counts and file names only

        unreachable = client.get("/", params={"state": "unreachable"}).text
        assert f'href="/prospects/{carepoint}"' in unreachable
        assert f'href="/prospects/{helix}"' not in unreachable

        page = client.get(f"/prospects/{carepoint}").text
        assert 'id="unreachable-why"' in page and "no reachable person" in page
        assert "use the context pack on a manual channel" in page  # the verdict's own rationale
        considered = page.count('class="contact-considered"')
        assert considered == len(store.contacts.of(carepoint)) == 4
        assert "a role address (read by whoever is on duty)" in page
        assert "Asha Rao, Practice Manager" in page and "a free-mail address (a private mailbox)" in page
        assert "Dev Mehta, Head of Compliance" in page and "the export marked the address unverified" in page
        assert "Tom Ito, Operations Lead" in page and "no address: none was imported" in page
        assert "imported from clinics.csv" in page
        why = page.split('id="unreachable-why"')[1].split("</section>")[0]
        assert "@carepoint-clinics.example" not in why and "gmail.com" not in why  # no address shown
        pack = store.artifacts.latest(carepoint, "context_pack")
        assert pack is not None and pack.content
        note = json.loads(pack.content)["finding"]["connection_note"]
        assert "context pack</a> is ready for a manual linkedin touch" in page
        assert 'id="context-pack"' in page and escape(note) in page

        elsewhere = client.get(f"/prospects/{nowhere}").text
        assert 'id="unreachable-why"' not in elsewhere
        assert (
            '<span class="why">refused: private_address</span> <span class="url">http://10.0.0.7/metadata</span>'
            in elsewhere
        )
        assert 'href="http://10.0.0.7' not in elsewhere  # a refused URL is shown, never a link to follow
        assert "refused (robots) before any byte" in elsewhere
        assert '<span class="why">not fetched: fetch.enabled is off</span>' in elsewhere


def test_an_unreachable_prospect_with_no_contact_and_no_pack_yet_says_so(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GTM_OPERATOR_PASSWORD", PASSWORD)
    listing = tmp_path / "accounts.csv"
    listing.write_text("Website,Company\nclearwave-imaging.example,Clearwave Imaging\n")
    apply_plan(
        services.store, read_plan(listing, []), services.hypotheses[HYPOTHESIS], {}, actor="operator:test"
    )
    pid = prospect_id("clearwave-imaging.example")
    fetch_sources(services, pid)
    augment(services, pid)
    assert draft_first_touch(services, pid).state == State.UNREACHABLE.value
    with TestClient(create_app(load_settings(), services=services)) as client:
        _logged_in(client)
        page = client.get(f"/prospects/{pid}").text
    why = page.split('id="unreachable-why"')[1].split("</section>")[0]
    assert "Contacts considered: none; no person was imported or found" in why
    assert "context pack for a manual channel is not built yet" in why
    assert f"/assets/context_pack?view=partitions&amp;partition={pid}" in why
    assert 'id="context-pack"' not in page
    here = page.split('class="why-here"')[1].split("</section>")[0]
    assert "Imported from accounts.csv" in here and "score" not in here  # not scored by discovery
