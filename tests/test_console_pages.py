"""The console's pages read by a person (issue 17, item 3): outcomes and dead letters in words,
promote only when the bar is met, charts with axes, labels and a point per week."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from gtm_pipeline.app import create_app
from gtm_pipeline.config import load_settings
from gtm_pipeline.console import charts, queries
from gtm_pipeline.console.actions import approve
from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.domain.states import State
from gtm_pipeline.evals import journal_eval, load_eval_set, run_eval, verdict
from gtm_pipeline.pipeline.privacy import record_request
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.skills.catalog import load_catalog
from tests.conftest import STARTER, TEST_START
from tests.helpers import run_all, send_first_touch

PASSWORD = "a long passphrase"


@pytest.fixture
def demo(gtm_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    """The demo pipeline on a manual clock, with a private, editable copy of the skills."""
    skills = tmp_path / "skills"
    shutil.copytree(STARTER / "skills", skills)
    monkeypatch.setenv("GTM_SKILLS_DIR", str(skills))
    monkeypatch.setenv("GTM_OPERATOR_PASSWORD", PASSWORD)
    monkeypatch.setenv("GTM_OPERATOR", "ana")
    services = Services.from_settings(load_settings(), clock=ManualClock(TEST_START))
    run_all(services)
    yield services
    services.close()


@pytest.fixture
def client(demo: Services) -> Iterator[TestClient]:
    with TestClient(create_app(demo.settings, services=demo)) as logged_in:
        assert logged_in.post("/login", data={"password": PASSWORD}).status_code in (200, 303)
        yield logged_in


def _csrf(client: TestClient) -> str:
    """Log in (again: a test that moves the clock ages the session out) and read the page's token."""
    assert client.post("/login", data={"password": PASSWORD}).status_code in (200, 303)
    (token,) = re.findall(r'name="csrf-token" content="([^"]+)"', client.get("/rights").text)
    return token


def _row(html: str, row_id: str) -> str:
    start = html.index(f'id="{row_id}"')
    return html[start : html.index("</tr>", start)]


def test_a_rights_requests_outcome_reads_in_words_with_who_when_and_the_due_date(
    demo: Services, client: TestClient
) -> None:
    store, clock = demo.store, demo.clock
    assert isinstance(clock, ManualClock)
    person = next(p for p in store.prospects.find() if p.contact_email)
    days = demo.settings.privacy.rights_response_days
    erasure = record_request(
        store, kind="erasure", email=str(person.contact_email), now=clock.now(), response_days=days
    )
    late = record_request(
        store, kind="grievance", email="someone@else.example", now=clock.now(), response_days=days
    )
    clock.set(clock.now() + dt.timedelta(days=2))
    answered = client.post(f"/rights/{erasure}/erase", data={"csrf": _csrf(client)}, follow_redirects=False)
    assert answered.status_code == 303

    page = client.get("/rights").text
    row = _row(page, f"rights-{erasure}")
    assert "{" not in row and "'" not in row.replace("&#39;", "")  # no Python dict, no repr
    assert f"Erased 1 prospect ({person.id})" in row
    assert "Removed: " in row and "journal entries" in row  # what was erased, counted in words
    assert 'by <span class="answered-by">operator:ana</span>' in row  # who
    when = clock.now().strftime("%d %b %Y %H:%M")
    assert f"Answered {when} UTC" in row  # when
    assert f"answered {days - 2} days before the due date" in row  # against the due date
    assert (TEST_START + dt.timedelta(days=days)).strftime("%d %b %Y") in row

    open_row = _row(page, f"rights-{late}")
    assert "overdue" not in open_row and f"due in {days - 2} days" in open_row
    clock.set(TEST_START + dt.timedelta(days=days + 3))
    _csrf(client)  # the session aged out with the clock: log in again
    overdue = _row(client.get("/rights").text, f"rights-{late}")
    assert 'class="rights-request overdue"' in overdue
    assert "open, overdue" in overdue and "overdue by 3 days" in overdue

    # an answer given from the shell (no console journal entry): the outcome still reads, who is said unknown
    store.privacy.complete_rights_request(late, outcome="grievance answered by letter", at=clock.now())
    shell = _row(client.get("/rights").text, f"rights-{late}")
    assert "grievance answered by letter" in shell and "by whom: not recorded" in shell


def test_an_export_outcome_says_what_was_exported_and_by_whom(demo: Services, client: TestClient) -> None:
    store = demo.store
    person = next(p for p in store.prospects.find() if p.contact_email)
    request_id = record_request(
        store, kind="access", email=str(person.contact_email), now=demo.clock.now(), response_days=30
    )
    download = client.post(f"/rights/{request_id}/export", data={"csrf": _csrf(client)})
    assert download.status_code == 200 and download.headers["content-type"] == "application/json"
    row = _row(client.get("/rights").text, f"rights-{request_id}")
    assert "Exported what is held on 1 prospect" in row and "operator:ana" in row
    assert "exported 1 prospect(s)" not in row  # the stored text is translated, not echoed


def test_a_dead_letter_shows_the_skill_the_prospect_the_failed_rule_and_the_raw_output(
    demo: Services, client: TestClient
) -> None:
    letters = queries.dead_letters(demo.store)
    assert letters, "the demo's offline provider dead-letters at least one call"
    page = client.get("/dead-letters").text
    for letter in letters:
        card = page[page.index(f'id="dead-{letter["id"]}"') :].split("</section>")[0]
        assert f"{letter['skill']} version {letter['skill_version']}, group {letter['group_name']}" in card
        prospect = demo.store.prospects.get(str(letter["prospect_id"]))
        assert prospect is not None
        assert f'<a href="/prospects/{prospect.id}">{escape(prospect.company_name)}</a>' in card
        assert str(escape(queries.DEAD_LETTER_RULES[letter["reason_kind"]])) in card  # the rule, in words
        for problem in str(letter["reason"]).split("; "):
            assert f"<li>{escape(problem.strip())}</li>" in card  # each problem on its own line
        raw = card.split('<details class="raw-output">')[1].split("</details>")[0]
        assert letter["raw_output"] and str(escape(letter["raw_output"])) in raw
        assert f'action="/dead-letters/{letter["id"]}/retry"' in card
        assert f'action="/dead-letters/{letter["id"]}/discard"' in card


def test_promote_is_offered_only_when_the_bar_is_met_and_the_blockers_are_listed_otherwise(
    demo: Services, client: TestClient
) -> None:
    row = _row(client.get("/skills").text, "skill-draft-first-touch")
    assert "/promote" not in row and "Promote to" not in row  # no reviews: no button
    assert "Not yet promotable to writing-dark-factory" in row
    assert '<li class="blocker">no reviewed drafts yet: 20 reviews needed</li>' in row
    assert "The bar: at least 20 reviews, at least 90% approved, at most 25% of approvals edited." in row

    approve(demo, demo.store.reviews.pending()[0].id, actor="operator:ana")
    row = _row(client.get("/skills").text, "skill-draft-first-touch")
    assert "/promote" not in row
    assert '<li class="blocker">1 review, 20 needed (19 more)</li>' in row

    group = demo.catalog.root / "writing-copilot" / "GROUP.md"  # the console reads the folders each visit
    group.write_text(group.read_text().replace("promote_min_reviews: 20", "promote_min_reviews: 1"))
    row = _row(client.get("/skills").text, "skill-draft-first-touch")
    assert "/promote" not in row  # the review record meets the bar, but this version has no eval yet
    blocker = "no eval of draft-first-touch@1.0.0 yet: run `gtm eval draft-first-touch`"
    assert f'<li class="blocker">{blocker}</li>' in row
    catalog = load_catalog(demo.catalog.root)
    skill = catalog.skill("draft-first-touch")
    run = run_eval(catalog, skill.name, load_eval_set(skill), demo.router, demo.prices, demo.clock)
    journal_eval(demo.store, verdict(run), actor="operator:ana")
    row = _row(client.get("/skills").text, "skill-draft-first-touch")
    assert 'action="/skills/draft-first-touch/promote"' in row and "Promote to writing-dark-factory" in row
    assert 'class="blocker"' not in row and "Meets the bar: at least 1 review," in row


def test_the_weekly_chart_is_a_line_with_a_point_per_week_axes_and_labels(demo: Services) -> None:
    store, clock = demo.store, demo.clock
    assert isinstance(clock, ManualClock)
    assert queries.weekly_rates(store) == []  # nothing sent: no chart, and it says so
    assert "No sends yet" in charts.rates_svg([])
    waiting = [p.id for p in store.prospects.find() if p.state is State.AWAITING_REVIEW]
    assert len(waiting) >= 2
    send_first_touch(demo, waiting[0], TEST_START)
    send_first_touch(demo, waiting[1], TEST_START + dt.timedelta(weeks=3))
    clock.set(TEST_START + dt.timedelta(weeks=5))
    weeks = queries.weekly_rates(store)
    assert len(weeks) == 12  # every week of the range, the empty ones as zeros
    mondays = [w["monday"] for w in weeks]
    assert all(b - a == dt.timedelta(weeks=1) for a, b in itertools.pairwise(mondays))
    assert mondays[-1] == (TEST_START + dt.timedelta(weeks=5)).date() - dt.timedelta(
        days=(TEST_START + dt.timedelta(weeks=5)).weekday()
    )
    assert [w["sent"] for w in weeks].count(1) == 2 and sum(w["sent"] for w in weeks) == 2
    assert weeks[-1]["sent"] == 0 and weeks[-1]["reply_rate"] == 0.0

    svg = charts.rates_svg(weeks)
    assert svg.startswith("<svg") and 'class="chart rates"' in svg
    assert svg.count('<polyline class="line series-reply"') == 1
    assert svg.count('<polyline class="line series-positive"') == 1
    points = re.findall(r'<polyline class="line series-reply" points="([^"]+)"', svg)[0].split()
    assert len(points) == 12  # a line through every week, not two dots
    for w in weeks:
        assert svg.count(f'data-week="{w["week"]}"') == 2  # a point per week and rate
        assert f">{w['week'][-3:]}</text>" in svg  # each week labelled on the x axis
    assert svg.count('class="axis"') == 2 and "share of sends" in svg and "ISO week" in svg
    assert ">0%</text>" in svg and re.search(r">\d+%</text>", svg)  # the y axis is labelled
    assert "style=" not in svg  # the CSP allows no inline style: classes only


def test_the_funnel_is_horizontal_bars_with_counts_and_rates(demo: Services, client: TestClient) -> None:
    (stages,) = queries.funnel(demo.store).values()
    svg = charts.funnel_svg(stages)
    counts = dict(stages)
    assert svg.count('<rect class="bar stage-') == len(stages)
    for label, n in stages:
        assert f">{label}</text>" in svg
        share = f"{n / counts['discovered']:.0%}"
        assert f'<tspan class="value">{n:,}</tspan><tspan class="rate"> · {share}' in svg
    assert f"{counts['qualified'] / counts['discovered']:.0%} of prev" in svg
    assert "prospects that ever reached the stage" in svg and "style=" not in svg
    page = client.get("/charts").text
    assert 'class="chart funnel"' in page and "Funnel by hypothesis" in page
