"""The sample companies' websites, served on loopback for `gtm demo`, so the demo reads them through
the real fetcher (robots.txt, politeness, the SSRF guard, sitemap, links, feed, extraction, dates)
with no network: a composition root, like the rehearsal, that plays the far end.

While it is open, the process's fetch settings turn fetching on and route the sample domains, and
only them, to the web twin on 127.0.0.1 (``fetch.connect_to``), which ``fetch.allow`` then admits;
every other host still goes out to the real web under the usual guard. Nothing is left behind: the
environment is restored on the way out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from gtm_pipeline.config import Settings
from gtm_pipeline.domain.clock import Clock
from gtm_pipeline.sources.corpus import SampleCorpus
from gtm_pipeline.twins.sample_sites import sample_sites
from gtm_pipeline.twins.web import WebTwin

# The twin is the demo's own server on loopback: no pause between two pages of one host is owed to
# it, and the per-process rate is raised so the demo is bound by extraction, not by politeness.
DEMO_PAUSE_S = "0"
DEMO_RATE = "500"


@dataclass(frozen=True)
class SampleWeb:
    """Where the sample sites are served, and what a caller can report about them."""

    address: str
    hosts: tuple[str, ...]
    twin: WebTwin

    def requests(self) -> int:
        return len(self.twin.hits())


def _merged(configured: list[str], extra: list[str]) -> str:
    """The operator's own entries (gtm.toml or environment) kept, the twin's added."""
    return ",".join(dict.fromkeys([*configured, *extra]))


@contextmanager
def serving_sample_sites(settings: Settings, clock: Clock) -> Iterator[SampleWeb]:
    """Serve the corpus's companies as websites and point this process's fetcher at them."""
    corpus = SampleCorpus(settings.paths.corpus)
    pages = sample_sites(corpus, today=clock.now().date())
    with WebTwin(pages=pages) as twin:
        overrides = {
            "GTM_FETCH_ENABLED": "1",
            "GTM_FETCH_ALLOW": _merged(settings.fetch.allow, [twin.address]),
            "GTM_FETCH_CONNECT_TO": _merged(settings.fetch.connect_to, twin.connect_to()),
            "GTM_FETCH_PAUSE_S": DEMO_PAUSE_S,
            "GTM_FETCH_RATE": DEMO_RATE,
        }
        saved = {name: os.environ.get(name) for name in overrides}
        os.environ.update(overrides)
        try:
            yield SampleWeb(twin.address, tuple(twin.hosts()), twin)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
