"""The fetcher against the web twin over real HTTP: every refusal, politeness, caching, extraction."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.sources.addresses import AddressPolicy, AddressRefused, GuardedBackend, why_not_public
from gtm_pipeline.sources.fetcher import FetchConfig, Fetcher, FetchRefused
from gtm_pipeline.twins.web import WebTwin
from tests.conftest import TEST_START

SITES = Path(__file__).parent / "fixtures" / "web"


@pytest.fixture
def twin() -> Iterator[WebTwin]:
    with WebTwin(SITES) as web:
        yield web


def make_fetcher(twin: WebTwin, tmp_path: Path, *, allow: bool = True, **limits: object) -> Fetcher:
    config = FetchConfig(contact="ops@northwind-advisory.example", pause_s=0.05, **limits)  # type: ignore[arg-type]
    policy = AddressPolicy.from_settings([twin.address] if allow else [], twin.connect_to())
    return Fetcher(config, policy, ManualClock(TEST_START), state_dir=tmp_path / "fetch")


@pytest.fixture
def fetcher(twin: WebTwin, tmp_path: Path) -> Iterator[Fetcher]:
    with make_fetcher(twin, tmp_path) as f:
        yield f


def refusal(fetcher: Fetcher, url: str) -> FetchRefused:
    with pytest.raises(FetchRefused) as caught:
        fetcher.get(url)
    return caught.value


def test_a_page_is_fetched_with_its_provenance_and_a_user_agent_naming_the_operator(
    fetcher: Fetcher, twin: WebTwin
) -> None:
    page = fetcher.get("https://acme-health.example/about")
    assert page.status == 200
    assert page.final_url == "https://acme-health.example/about"
    assert "founded in 2014" in page.text
    assert page.retrieved_at == TEST_START
    assert page.robots == "allowed (parsed robots.txt)"
    assert len(page.content_hash) == 64
    agents = {hit.headers.get("user-agent") for hit in twin.hits("acme-health.example")}
    assert agents == {"gtm-pipeline/0.1 (+outbound research; contact: ops@northwind-advisory.example)"}
    # robots.txt first, then the page
    assert [h.path for h in twin.hits("acme-health.example")] == ["/robots.txt", "/about"]


def test_robots_disallow_is_refused_without_requesting_the_page(fetcher: Fetcher, twin: WebTwin) -> None:
    assert refusal(fetcher, "https://blocked.example/").reason == "robots"
    assert refusal(fetcher, "https://acme-health.example/private/admin").reason == "robots"
    assert [h.path for h in twin.hits("blocked.example")] == ["/robots.txt"]
    assert "/private/admin" not in [h.path for h in twin.hits("acme-health.example")]


def test_robots_5xx_disallows_everything_and_4xx_allows_everything(fetcher: Fetcher, twin: WebTwin) -> None:
    refused = refusal(fetcher, "https://down.example/")
    assert refused.reason == "robots"
    assert "unavailable" in refused.detail
    assert [h.path for h in twin.hits("down.example")] == ["/robots.txt"]
    page = fetcher.get("https://norobots.example/")
    assert page.robots == "allowed (absent robots.txt)"


def test_robots_is_cached_for_at_most_a_day(twin: WebTwin, tmp_path: Path) -> None:
    clock = ManualClock(TEST_START)
    policy = AddressPolicy.from_settings([twin.address], twin.connect_to())
    config = FetchConfig(contact="ops@x.example", pause_s=0.0, robots_ttl=dt.timedelta(days=7))
    with Fetcher(config, policy, clock, state_dir=tmp_path / "f", cache=False) as fetcher:
        fetcher.get("https://norobots.example/")
        fetcher.get("https://norobots.example/")
        clock.set(TEST_START + dt.timedelta(hours=24))
        fetcher.get("https://norobots.example/")
    paths = [h.path for h in twin.hits("norobots.example")]
    assert paths.count("/robots.txt") == 2  # a 7-day ttl is capped at 24 h


def test_crawl_delay_and_one_request_at_a_time_per_host(fetcher: Fetcher, twin: WebTwin) -> None:
    urls = [
        "https://acme-health.example/",
        "https://acme-health.example/about",
        "https://acme-health.example/careers",
        "https://acme-health.example/team",
    ]
    threads = [threading.Thread(target=fetcher.get, args=(u,)) for u in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    hits = sorted(twin.hits("acme-health.example"), key=lambda h: h.started)
    assert len(hits) == 5
    for before, after in itertools.pairwise(hits):
        assert after.started >= before.ended, "two requests to one host at once"
    gaps = [after.started - before.ended for before, after in itertools.pairwise(hits)]
    assert min(gaps) >= 0.19  # robots.txt says Crawl-delay: 0.2, more than the 0.05 s pause


def test_the_per_host_slot_holds_across_two_fetchers(twin: WebTwin, tmp_path: Path) -> None:
    # Two fetchers on one state folder stand for two processes: flock serialises them.
    one, two = make_fetcher(twin, tmp_path), make_fetcher(twin, tmp_path)
    with one, two:
        threads = [
            threading.Thread(target=f.get, args=(f"https://norobots.example/?{i}",))
            for i, f in enumerate([one, two, one, two])
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    hits = sorted(twin.hits("norobots.example"), key=lambda h: h.started)
    for before, after in itertools.pairwise(hits):
        assert after.started >= before.ended + 0.04


def test_an_unchanged_page_costs_a_304(fetcher: Fetcher, twin: WebTwin) -> None:
    first = fetcher.get("https://acme-health.example/about")
    second = fetcher.get("https://acme-health.example/about")
    assert second.text == first.text and second.content_hash == first.content_hash
    about = [h for h in twin.hits("acme-health.example") if h.path == "/about"]
    assert [h.status for h in about] == [200, 304]
    assert "if-none-match" in about[1].headers
    assert second.revalidated


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://tricky.example/huge", "too_large"),
        ("https://tricky.example/report.pdf", "content_type"),
        ("https://tricky.example/loop", "too_many_redirects"),
        ("https://tricky.example/chain1", "too_many_redirects"),
        ("https://tricky.example/hop-out", "private_address"),
        ("https://tricky.example/metadata", "private_address"),
        ("https://tricky.example/gone", "http_410"),
        ("https://tricky.example/missing", "http_404"),
        ("ftp://tricky.example/x", "bad_url"),
        ("https://user:pw@tricky.example/", "bad_url"),
    ],
)
def test_every_refusal_names_its_reason(fetcher: Fetcher, url: str, reason: str) -> None:
    assert refusal(fetcher, url).reason == reason


def test_a_slow_page_times_out(twin: WebTwin, tmp_path: Path) -> None:
    with make_fetcher(twin, tmp_path, timeout_s=1.0) as fetcher:
        refused = refusal(fetcher, "https://tricky.example/slow")
    assert refused.reason == "timeout"


def test_a_redirect_is_followed_and_recorded(fetcher: Fetcher) -> None:
    page = fetcher.get("https://tricky.example/moved")
    assert page.final_url == "https://tricky.example/about"
    assert page.redirects == ("https://tricky.example/moved",)


def test_the_twin_itself_is_private_unless_allowed(twin: WebTwin, tmp_path: Path) -> None:
    with make_fetcher(twin, tmp_path, allow=False) as fetcher:
        refused = refusal(fetcher, "https://norobots.example/")
    assert refused.reason == "private_address"
    assert twin.hits() == []  # not even robots.txt was asked for


def test_a_lying_charset_falls_back_to_windows_1252_not_a_garbled_guess(fetcher: Fetcher) -> None:
    # windows-1252 bytes behind "charset=utf-8": a detector alone reads them as cp1257 ("hōpitaux, déją")
    page = fetcher.get("https://tricky.example/legacy")
    assert "Café société — prix spéciaux pour les hôpitaux, déjà livrés à Genève et à Zürich." in page.text
    assert page.charset == "cp1252"
    assert page.charset_source == "windows-1252 fallback (header said utf-8, which does not decode)"
    assert page.provenance()["charset_source"] == page.charset_source


def test_rebinding_is_refused_on_the_socket() -> None:
    # A name that resolves to a public and a private address is refused outright, and the
    # backend connects to the address it checked, never to a second lookup.
    answers = {"rebind.example": ["93.184.215.14", "10.0.0.7"], "ok.example": ["93.184.215.14"]}
    policy = AddressPolicy(resolver=lambda host, port: answers[host])
    with pytest.raises(AddressRefused) as caught:
        policy.address_for("rebind.example", 443)
    assert caught.value.reason == "private" and caught.value.private
    assert policy.address_for("ok.example", 443) == "93.184.215.14"
    assert isinstance(GuardedBackend(policy), GuardedBackend)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "100.64.0.1",
        "fc00::1",
    ],
)
def test_non_public_addresses_are_named(address: str) -> None:
    assert why_not_public(address) is not None


def test_public_addresses_pass() -> None:
    assert why_not_public("93.184.215.14") is None
    assert why_not_public("2606:2800:21f:cb07:6820:80da:af6b:8b2c") is None


def test_extraction_keeps_main_text_a_trusted_date_links_and_feeds(fetcher: Fetcher) -> None:
    from gtm_pipeline.sources.extract import page_content

    home = page_content(fetcher.get("https://acme-health.example/"), today=TEST_START.date())
    assert home.organization == "Acme Health"
    assert home.feeds == ("https://acme-health.example/feed.xml",)
    assert "https://acme-health.example/careers" in {link.url for link in home.links}
    assert "scheduling and billing software" in home.text
    news = page_content(
        fetcher.get("https://acme-health.example/news/compliance-automation"), today=TEST_START.date()
    )
    assert (news.published_on, news.date_source) == (dt.date(2026, 9, 14), "json-ld")
    assert "automate evidence collection" in news.text
    # a page is never published after today: the same page read on an earlier day has no date
    earlier = page_content(
        fetcher.get("https://acme-health.example/news/compliance-automation"), today=dt.date(2026, 9, 1)
    )
    assert earlier.published_on is None


def test_the_frontier_fetches_many_hosts_in_order_politely_and_returns_refusals(
    fetcher: Fetcher, twin: WebTwin
) -> None:
    from gtm_pipeline.sources.crawl import fetch_all

    urls = [
        "https://acme-health.example/",
        "https://norobots.example/",
        "https://blocked.example/",
        "https://acme-health.example/about",
        "https://tricky.example/report.pdf",
        "https://acme-health.example/careers",
    ]
    results = fetch_all(fetcher, urls, workers=4)
    assert [getattr(r, "url", None) for r in results] == urls
    assert [getattr(r, "reason", None) for r in results] == [None, None, "robots", None, "content_type", None]
    acme = sorted(twin.hits("acme-health.example"), key=lambda h: h.started)
    assert [h.path for h in acme] == ["/robots.txt", "/", "/about", "/careers"]
    for before, after in itertools.pairwise(acme):
        assert after.started >= before.ended + 0.19  # robots.txt's Crawl-delay, never overlapping


def test_a_stale_or_corrupt_politeness_stamp_never_holds_a_host_longer_than_one_pause(tmp_path: Path) -> None:
    import time

    from gtm_pipeline.sources.politeness import HostSlots, SlotTimeout

    slots = HostSlots(tmp_path)
    slots._path("a.example").write_text(f"{time.monotonic() + 36_000:032.6f}")  # from a longer boot
    started = time.monotonic()
    with slots.slot("a.example", 0.2):
        pass
    assert time.monotonic() - started < 1.0
    slots._path("b.example").write_text("not a number")
    with slots.slot("b.example", 0.1):
        pass
    # a slot that cannot be had before the deadline is a timeout, not an endless wait
    with (
        slots.slot("c.example", 0.0),
        pytest.raises(SlotTimeout),
        slots.slot("c.example", 0.0, deadline=time.monotonic() + 0.2),
    ):
        pass


def test_broken_links_on_a_page_are_skipped_not_fatal(fetcher: Fetcher) -> None:
    from gtm_pipeline.sources.extract import page_content
    from gtm_pipeline.sources.fetcher import Fetched

    page = fetcher.get("https://acme-health.example/")
    broken = Fetched(**{**page.__dict__, "text": page.text.replace('href="/about"', 'href="http://[broken"')})
    content = page_content(broken, today=TEST_START.date())
    assert "https://acme-health.example/careers" in {link.url for link in content.links}
    assert refusal(fetcher, "https://acme-health.example:99999/").reason == "bad_url"


def test_people_are_given_only_the_address_in_their_own_stretch_of_the_page() -> None:
    from gtm_pipeline.sources.people import published_people

    shared = (
        "<section><h3>Jane Doe</h3><p>Chief Executive Officer</p><h3>John Roe</h3><p>Head of Compliance</p>"
        '<a href="mailto:john.roe@acme.example">write</a></section>'
        '<div><h3>Ann Lee</h3><p>CFO</p><a href="mailto:ann@elsewhere.example">x</a></div>'
    )
    people = {p.name: p.email for p in published_people(shared, "acme.example")}
    assert people == {"Jane Doe": None, "John Roe": "john.roe@acme.example", "Ann Lee": None}


def test_a_dns_lookup_that_hangs_is_given_up_on(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from gtm_pipeline.sources import addresses

    def hang(*args: object, **kwargs: object) -> list[object]:
        time.sleep(1.0)
        return []

    monkeypatch.setattr(addresses, "DNS_TIMEOUT_S", 0.2)
    monkeypatch.setattr(addresses.socket, "getaddrinfo", hang)
    with pytest.raises(AddressRefused) as caught:
        addresses.system_resolver("slow-dns.example", 443)
    assert "no answer" in caught.value.reason and not caught.value.private
