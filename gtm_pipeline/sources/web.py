"""The fetcher as the settings configure it: the one place a :class:`Fetcher` is built."""

from __future__ import annotations

from pathlib import Path

from gtm_pipeline.config import Settings
from gtm_pipeline.domain.clock import Clock
from gtm_pipeline.sources.addresses import AddressPolicy
from gtm_pipeline.sources.fetcher import FetchConfig, Fetcher
from gtm_pipeline.sources.page_cache import PageCache


def fetch_config(settings: Settings) -> FetchConfig:
    fetch = settings.fetch
    return FetchConfig(
        contact=fetch.contact or settings.sender.privacy_contact,
        pause_s=fetch.pause_s,
        global_rate=fetch.global_rate,
        max_bytes=fetch.max_bytes,
        max_redirects=fetch.max_redirects,
        timeout_s=fetch.timeout_s,
    )


def fetch_state_dir(settings: Settings) -> Path:
    """Where the fetcher keeps its per-host slots and its HTTP cache: under home, one per workspace."""
    return settings.paths.home / "fetch"


def page_cache(settings: Settings) -> PageCache:
    """The fetcher's copies of pages, which an erasure empties."""
    return PageCache(fetch_state_dir(settings))


def build_fetcher(
    settings: Settings, clock: Clock, *, cache: bool = True, create_lock_files: bool = True
) -> Fetcher:
    """A fetcher whose per-host slots (and HTTP cache, unless ``cache=False``) live under home;
    ``create_lock_files=False`` joins the slots that exist there but makes no new file."""
    policy = AddressPolicy.from_settings(settings.fetch.allow, settings.fetch.connect_to)
    return Fetcher(
        fetch_config(settings),
        policy,
        clock,
        state_dir=fetch_state_dir(settings),
        cache=cache,
        create_lock_files=create_lock_files,
    )
