"""The console's funnel to the money (issue 19, item 3): the charts page reaches "won" per
hypothesis with confidence intervals, and the hypothesis pages answer "which signals lead to
meetings" with each kind's meeting rate, interval and sample size. No inline style or script."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from gtm_pipeline.app import create_app
from gtm_pipeline.console.routes import hypotheses
from gtm_pipeline.domain.states import Event
from gtm_pipeline.pipeline.services import Services
from tests.conftest import HYPOTHESIS, OPERATOR_PASSWORD
from tests.helpers import run_all
from tests.test_funnel_campaign import ALPHA, BETA, V2, Campaign, build, signal


@pytest.fixture
def client(app_services: Services) -> Iterator[TestClient]:
    """The demo's prospects plus the funnel campaign (meetings and a won deal), logged in."""
    run_all(app_services)
    build(app_services.store)
    app = create_app(app_services.settings, services=app_services)
    if not any(getattr(r, "path", None) == "/hypotheses" for r in app.routes):
        app.include_router(hypotheses.router)  # until console/routes/__init__.py mounts it
    with TestClient(app) as logged_in:
        assert logged_in.post("/login", data={"password": OPERATOR_PASSWORD}).status_code in (200, 303)
        yield logged_in


def _card(html: str, slug: str) -> str:
    start = html.index(f'data-hypothesis="{slug}"')
    return html[start : html.index("</section>", start)]


def _row(html: str, marker: str) -> str:
    start = html.index(marker)
    return html[start : html.index("</tr>", start)]


def _no_inline_style_or_script(html: str) -> None:
    assert "style=" not in html and "<style" not in html
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))  # scripts are files only
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers


def test_the_charts_page_shows_each_funnel_reaching_won_with_intervals(client: TestClient) -> None:
    response = client.get("/charts")
    assert response.status_code == 200
    html = response.text
    assert "script-src" in response.headers["content-security-policy"]
    _no_inline_style_or_script(html)
    for slug in (ALPHA, BETA, HYPOTHESIS):
        card = _card(html, slug)
        assert card.count('<rect class="bar stage-') == 7 and ">won</text>" in card
        assert "[95% CI " in card and f'href="/hypotheses/{slug}"' in card
    alpha = _card(html, ALPHA)
    # won: 1 of the 2 meetings, its interval, and the small sample said
    assert '<tspan class="value">1</tspan><tspan class="rate"> · 14% · 50% of prev</tspan>' in alpha
    assert (
        '<tspan class="rate ci"> [95% CI 9.5%-91%]</tspan> <tspan class="small-sample">small sample</tspan>'
        in alpha
    )
    # the same figures by hypothesis, drafting skill version and signal kind, in tables
    won = _row(html, f'<tr data-key="{ALPHA}">')
    assert '50% <span class="muted">(9.5%-91%)</span>' in won and "small sample" in won
    assert 'id="funnel-by-skill"' in html and "draft-first-touch@1.0.0" in html
    assert 'id="funnel-by-signal"' in html and '<tr data-key="funding">' in html
    assert "fewer than 30 prospects" in html


def test_the_hypothesis_list_compares_meetings_per_prospect_written_to(client: TestClient) -> None:
    html = client.get("/hypotheses").text
    _no_inline_style_or_script(html)
    for slug in (ALPHA, BETA, HYPOTHESIS):
        assert f'<a href="/hypotheses/{slug}">{slug}</a>' in html
    alpha = _row(html, f'id="hypothesis-{ALPHA}"')
    cells = re.findall(r'<td class="num">([\d,]+)</td>', alpha)
    assert cells == [
        "7",
        "5",
        "4",
        "2",
        "2",
        "1",
    ]  # discovered, qualified, written to, positive, meetings, won
    assert '50% <span class="muted">(15%-85%)</span>' in alpha and "small sample" in alpha


def test_a_hypothesis_page_says_which_signals_lead_to_meetings(client: TestClient) -> None:
    response = client.get(f"/hypotheses/{ALPHA}")
    assert response.status_code == 200
    html = response.text
    _no_inline_style_or_script(html)
    assert "Which signals lead to meetings" in html and 'class="chart rate-ci"' in html
    assert "Not in this workspace" in html  # a hypothesis known only from its prospects
    rows = re.findall(r'<tr data-signal="([^"]+)">', html)
    assert rows[0] == "funding"  # the best meeting rate first
    funding = _row(html, '<tr data-signal="funding">')
    assert re.findall(r'<td class="num">(\d+)</td>', funding) == ["2", "2", "2", "2", "1"]
    assert '100% <span class="muted">(34%-100%)</span>' in funding
    assert "small sample: only 2 prospects" in funding  # n, said in words
    hiring = _row(html, '<tr data-signal="hiring">')
    assert '0% <span class="muted">(0%-66%)</span>' in hiring
    chart = html[
        html.index('class="chart rate-ci"') : html.index("</svg>", html.index('class="chart rate-ci"'))
    ]
    assert rows == ["funding", "hiring", "none", "product_launch"]  # nobody written to: last
    assert chart.count('<circle class="point') == 2  # a dot (and its whisker) per kind written to
    assert chart.count("0 of 0 · no sample yet") == 2  # the others listed, said to have no sample
    assert ">2 of 2</tspan>" in chart and "[95% CI 34%-100%]" in chart
    assert "95% interval" in chart and ">0%</text>" in chart and ">100%</text>" in chart


def test_the_demo_hypothesis_page_lists_its_sought_signals_and_an_unknown_one_is_404(
    client: TestClient,
) -> None:
    html = client.get(f"/hypotheses/{HYPOTHESIS}").text
    assert "(version " in html and 'data-hypothesis="' + HYPOTHESIS + '"' in html
    assert re.search(r'<tr data-signal="regulatory_event">', html)
    assert client.get("/hypotheses/no-such-hypothesis").status_code == 404


def test_the_charts_page_follows_the_journal_between_views(
    client: TestClient, app_services: Services
) -> None:
    """Funnel and weekly rates are kept between views, and recomputed once the journal moves."""

    def sent_this_week(html: str) -> int:
        table = html[html.index('id="weekly-table"') :]
        return int(re.findall(r'<td class="num">(\d+)</td>', table)[0])

    first = client.get("/charts").text
    assert client.get("/charts").text == first  # nothing moved: the same page
    campaign = Campaign(app_services.store)
    campaign.n = 100  # new ids beside the fixture's campaign
    pid = campaign.prospect(BETA, [signal("funding", 0.9)])
    campaign.qualify(pid)
    campaign.send(pid, V2)
    campaign.reply(pid, "interested")
    campaign.apply(pid, Event.MEETING_BOOKED)
    after = client.get("/charts").text
    assert sent_this_week(after) == sent_this_week(first) + 1
    beta = _row(after, f'<tr data-key="{BETA}">')
    assert re.findall(r"<strong>(\d+)</strong>", beta) == ["3", "3", "3", "2", "2", "1", "0"]
