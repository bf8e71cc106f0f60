"""The company-site connector against the web twin: which pages a visit reads within its budget,
the sitemaps, feeds and job boards it follows, the www. fallback, and a record for everything it
leaves out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.sources.addresses import AddressPolicy, AddressRefused
from gtm_pipeline.sources.fetcher import FetchConfig, Fetcher
from gtm_pipeline.sources.site import SiteVisit, pick_pages, visit_site
from gtm_pipeline.twins.web import WebTwin
from tests.conftest import TEST_START

SITES = Path(__file__).parent / "fixtures" / "web"
CROWDED = "crowded-clinic.example"
TODAY = TEST_START.date()


def no_dns(host: str, port: int) -> list[str]:
    """A resolver for names the twin does not serve: they resolve nowhere (no query leaves)."""
    raise AddressRefused(host, port, None, "does not resolve (test resolver)", private=False)


def make_fetcher(twin: WebTwin, tmp_path: Path) -> Fetcher:
    """Politeness is the fetcher's own tests' subject (tests/test_fetch.py): here, no global rate."""
    policy = AddressPolicy.from_settings([twin.address], twin.connect_to(), resolver=no_dns)
    config = FetchConfig(contact="ops@northwind-advisory.example", pause_s=0.01, global_rate=0)
    return Fetcher(config, policy, ManualClock(TEST_START), state_dir=tmp_path / "fetch")


@pytest.fixture
def twin() -> Iterator[WebTwin]:
    with WebTwin(SITES) as web:
        yield web


@dataclass(frozen=True)
class Visited:
    """One visit of the crowded site, and the requests the twin saw for it."""

    visit: SiteVisit
    hits: dict[str, list[str]]  # host -> paths requested, in order

    def paths(self, host: str = CROWDED) -> list[str]:
        return self.hits.get(host, [])


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Visited:
    """Visited once for the tests that read it (the visit is the slow part)."""
    with WebTwin(SITES) as web, make_fetcher(web, tmp_path_factory.mktemp("crowded")) as fetcher:
        visit = visit_site(fetcher, CROWDED, today=TODAY)
        hits: dict[str, list[str]] = {}
        for hit in web.hits():
            hits.setdefault(hit.host, []).append(hit.path)
    return Visited(visit, hits)


def records(visit: SiteVisit, reason: str) -> list[dict[str, str]]:
    return [r for r in visit.refusals if r["refused"] == reason]


def test_profile_pages_get_their_slots_although_the_sitemap_index_lists_many_newer_posts(
    crowded: Visited,
) -> None:
    by_id = {d.source_id: d for d in crowded.visit.documents}
    paths = crowded.paths()
    # The sitemaps came from robots.txt's Sitemap: line (an index, followed), not a guessed /sitemap.xml.
    assert "/sitemap.xml" not in paths
    assert {"/sitemaps/index.xml", "/sitemaps/pages.xml", "/sitemaps/posts.xml"} <= set(paths)
    # About, careers and team are read although twelve newer posts would have filled the budget.
    assert by_id[f"web/{CROWDED}/about"].kind == "about"
    assert by_id[f"web/{CROWDED}/careers"].kind == "careers"
    assert [p.final_url for p in crowded.visit.people_pages] == [f"https://{CROWDED}/team/leadership"]
    assert "/about/press-kit" not in paths  # a press page (over the budget), not the about page
    # The rest of the budget (8 pages, home included) went to the newest posts, newest first.
    read_posts = [p for p in paths if p.startswith("/blog/")]
    assert read_posts == ["/blog/post-12", "/blog/post-11", "/blog/post-10", "/blog/post-09"]
    assert sum(p.startswith(("/about", "/careers", "/team", "/blog")) for p in paths) == 7
    (left,) = records(crowded.visit, "over_budget")[:1]
    assert left["url"] == f"https://{CROWDED}/"
    assert left["detail"].startswith("10 more pages not read (budget 8 pages per visit): blog 9, press 1")
    assert crowded.paths("other-company.example") == []  # a sitemap entry of another site is not a page here


def test_a_careers_page_linking_to_lever_and_ashby_gives_dated_hiring_sources(crowded: Visited) -> None:
    by_id = {d.source_id: d for d in crowded.visit.documents}
    lever = by_id["web/jobs.lever.co/crowdedclinic"]
    assert lever.kind == "careers" and lever.url == "https://jobs.lever.co/crowdedclinic"
    assert lever.published_on == dt.date(2026, 11, 4)  # createdAt, milliseconds since the epoch
    assert lever.text == (
        "Open roles on the Lever job board: Practice Manager (Hexham), posted or updated 2026-11-04; "
        "Practice Nurse (Durham), posted or updated 2026-10-15."
    )  # the location is Lever's categories.location
    ashby = by_id["web/jobs.ashbyhq.com/crowded-clinic"]
    assert ashby.kind == "careers" and ashby.published_on == dt.date(2026, 11, 10)
    assert ashby.text == (
        "Open roles on the Ashby job board: Information Security Engineer (Newcastle, remote), posted or "
        "updated 2026-11-10; Data Engineer (Leeds), posted or updated 2026-10-30."
    )
    assert crowded.visit.provenance[ashby.source_id]["api"] == (
        "https://api.ashbyhq.com/posting-api/job-board/crowded-clinic"
    )
    # The board and a posting on it are one board: its API is asked once, after its robots.txt.
    assert crowded.paths("api.lever.co") == ["/robots.txt", "/v0/postings/crowdedclinic"]
    # The postings not kept are accounted for: the unlisted one and the undated one.
    api = "https://api.ashbyhq.com/posting-api/job-board/crowded-clinic"
    assert [(r["url"], r["detail"]) for r in records(crowded.visit, "unlisted")] == [
        (api, "1 postings marked unlisted by the company: Head of Platform (confidential search)")
    ]
    (undated,) = [r for r in records(crowded.visit, "undated") if r["url"] == api]
    assert "Graduate Analyst" in undated["detail"] and "Head of Platform" not in ashby.text


def test_every_advertised_feed_up_to_the_bound_is_read_and_each_entry_left_out_says_why(
    crowded: Visited,
) -> None:
    by_id = {d.source_id: d for d in crowded.visit.documents}
    rss = by_id[f"web/{CROWDED}/news/fortieth-clinic"]
    atom = by_id[f"web/{CROWDED}/press/iso-27001"]
    assert rss.published_on == dt.date(2026, 11, 2) and atom.published_on == dt.date(2026, 10, 20)
    assert crowded.visit.provenance[atom.source_id]["feed"] == f"https://{CROWDED}/feeds/press.atom"
    news = f"https://{CROWDED}/feeds/news.xml"
    feeds = [(r["url"], r["refused"]) for r in crowded.visit.refusals if "/feeds/" in r["url"]]
    assert feeds == [
        (news, "undated"),
        (news, "future_date"),
        (f"https://{CROWDED}/feeds/jobs.xml", "http_404"),
        (f"https://{CROWDED}/feeds/archive.xml", "over_budget"),
    ]
    (undated,) = [r for r in records(crowded.visit, "undated") if r["url"] == news]
    assert "A note from our founders" in undated["detail"]
    assert "/feeds/archive.xml" not in crowded.paths()  # over the bound: not asked


def test_opengraph_stands_in_for_a_missing_date_title_and_text(crowded: Visited) -> None:
    by_id = {d.source_id: d for d in crowded.visit.documents}
    post = by_id[f"web/{CROWDED}/blog/post-12"]
    assert post.published_on == dt.date(2026, 10, 12)
    assert crowded.visit.provenance[post.source_id]["date_source"] == "opengraph"
    assert crowded.visit.provenance[f"web/{CROWDED}/blog/post-11"]["date_source"] == "json-ld"
    about = by_id[f"web/{CROWDED}/about"]  # a page rendered by script: no text but its own summary
    assert about.title == "About Crowded Clinic"
    assert about.text.startswith("Crowded Clinic was founded in 2011")
    assert crowded.visit.provenance[about.source_id]["text_source"] == "description"


@pytest.mark.parametrize(
    ("domain", "reason"),
    [("www-only.example", "unreachable"), ("apex-404.example", "http_404")],
)
def test_a_bare_domain_that_does_not_answer_is_read_at_www_and_the_fallback_is_recorded(
    twin: WebTwin, tmp_path: Path, domain: str, reason: str
) -> None:
    with make_fetcher(twin, tmp_path) as fetcher:
        visit = visit_site(fetcher, domain, today=TODAY)
    assert visit.site_url == f"https://www.{domain}/"
    assert [d.source_id for d in visit.documents] == [f"web/www.{domain}/"]
    (bare,) = visit.refusals
    assert bare["url"] == f"https://{domain}/" and bare["refused"] == reason
    assert bare["detail"].endswith(f"trying https://www.{domain}/ instead")


def test_a_site_that_answers_at_neither_name_records_both_and_keeps_nothing(
    twin: WebTwin, tmp_path: Path
) -> None:
    with make_fetcher(twin, tmp_path) as fetcher:
        visit = visit_site(fetcher, "nowhere.example", today=TODAY)
    assert visit.documents == [] and visit.site_url == ""
    assert [(r["url"], r["refused"]) for r in visit.refusals] == [
        ("https://nowhere.example/", "unreachable"),
        ("https://www.nowhere.example/", "unreachable"),
    ]


def test_robots_forbidding_the_bare_home_is_an_answer_not_a_reason_to_try_www(
    twin: WebTwin, tmp_path: Path
) -> None:
    with make_fetcher(twin, tmp_path) as fetcher:
        visit = visit_site(fetcher, "blocked.example", today=TODAY)
    assert [(r["url"], r["refused"]) for r in visit.refusals] == [("https://blocked.example/", "robots")]


def test_the_sitemap_index_is_bounded_and_what_is_not_read_is_recorded(tmp_path: Path) -> None:
    host = "many-maps.example"
    children = "".join(f"<sitemap><loc>https://{host}/maps/{i}.xml</loc></sitemap>" for i in range(9))
    index = f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{children}</sitemapindex>'
    pages = {
        "/": b"<html><body><p>Many maps: a site whose sitemap index names nine sitemaps.</p></body></html>",
        "/robots.txt": f"User-agent: *\nSitemap: https://{host}/index.xml\nSitemap: https://{host}/old.xml.gz\n".encode(),
        "/index.xml": index.encode(),
        **{f"/maps/{i}.xml": b"<urlset/>" for i in range(9)},
    }  # fmt: skip
    with WebTwin(pages={host: pages}) as web, make_fetcher(web, tmp_path) as fetcher:
        visit = visit_site(fetcher, host, today=TODAY)
        read = [h.path for h in web.hits(host) if h.path.endswith(".xml")]
    assert read == ["/index.xml", "/maps/0.xml", "/maps/1.xml", "/maps/2.xml", "/maps/3.xml"]
    assert [(r["url"], r["refused"], r["detail"]) for r in visit.refusals] == [
        (f"https://{host}/old.xml.gz", "content_type", "a gzipped sitemap is not read (no request made)"),
        (f"https://{host}/maps/4.xml", "over_budget", "5 more sitemaps not read (at most 6 per visit)"),
    ]


def test_the_budget_reserves_a_slot_per_profile_kind_and_keeps_the_given_order() -> None:
    posts = [(f"https://x.example/blog/{i}", "blog") for i in range(5)]
    profile = [
        ("https://x.example/team/board", "team"),
        ("https://x.example/about/history", "about"),
        ("https://x.example/about", "about"),
        ("https://x.example/careers", "careers"),
    ]
    picked, left = pick_pages(posts + profile, 5)
    assert picked == [*posts[:2], profile[0], profile[2], profile[3]]
    assert left == [*posts[2:], profile[1]]
    picked, left = pick_pages(posts + profile, 2)  # fewer slots than profile kinds: about, careers
    assert picked == [profile[2], profile[3]] and len(left) == 7
