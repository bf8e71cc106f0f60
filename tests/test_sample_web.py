"""The sample companies served as websites: what `gtm demo` reads through the real fetcher."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from gtm_pipeline.config import STARTER, load_settings
from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.domain.sources import SourceDoc, normalize_for_match
from gtm_pipeline.sample_web import serving_sample_sites
from gtm_pipeline.sources.corpus import SampleCorpus
from gtm_pipeline.sources.site import visit_site
from gtm_pipeline.sources.web import build_fetcher

CORPUS = SampleCorpus(STARTER / "corpus")


def _visit_all(today: dt.date) -> dict[str, list[SourceDoc]]:
    clock = ManualClock(dt.datetime.combine(today, dt.time(9), tzinfo=dt.UTC))
    settings = load_settings()
    found: dict[str, list[SourceDoc]] = {}
    with serving_sample_sites(settings, clock):
        fetcher = build_fetcher(load_settings(), clock)  # the settings as the twin set them
        try:
            for domain in sorted({c.domain for c in CORPUS.candidates()}):
                visit = visit_site(fetcher, domain, today=today)
                assert visit.refusals == [], (domain, visit.refusals)
                found[domain] = visit.documents
        finally:
            fetcher.close()
    return found


def test_on_the_snapshot_day_every_corpus_page_is_read_back_word_for_word_with_its_date(
    gtm_home: Path,
) -> None:
    visited = _visit_all(CORPUS.as_of)
    for domain, docs in visited.items():
        want = {normalize_for_match(d.text): d for d in CORPUS.fetch(domain)}
        got = {normalize_for_match(d.text): d for d in docs}
        assert set(got) == set(want), domain  # nothing lost, nothing added (no navigation, no footer)
        for text, doc in got.items():
            assert doc.published_on == want[text].published_on, doc.source_id
            assert doc.url.startswith(f"https://{domain}/")


def test_later_the_pages_are_as_old_as_on_the_snapshot_day_prose_included(gtm_home: Path) -> None:
    later = CORPUS.as_of + dt.timedelta(days=400)
    visited = _visit_all(later)
    news = {d.url: d for d in visited["ledgerly.example"]}["https://ledgerly.example/news/soc2"]
    assert news.published_on == dt.date(2026, 10, 15) + dt.timedelta(days=400)
    assert "on 19 November 2027" in news.text and "2026" not in news.text


def test_the_environment_is_restored_and_the_operators_own_routes_are_kept(
    gtm_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GTM_FETCH_ALLOW", "127.0.0.1:9")
    clock = ManualClock(dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC))
    with serving_sample_sites(load_settings(), clock) as web:
        inside = load_settings().fetch
        assert inside.enabled and inside.allow == ["127.0.0.1:9", web.address]
        assert f"ledgerly.example={web.address}" in inside.connect_to
    assert os.environ["GTM_FETCH_ALLOW"] == "127.0.0.1:9"
    assert "GTM_FETCH_ENABLED" not in os.environ and "GTM_FETCH_CONNECT_TO" not in os.environ
    assert not load_settings().fetch.enabled
