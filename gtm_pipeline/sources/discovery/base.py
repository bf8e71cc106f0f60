"""The interface every discovery source implements, and the error a source raises.

A source answers a :class:`~gtm_pipeline.domain.signals.Query` with
:class:`~gtm_pipeline.domain.signals.Hit` s and says what one call costs at list price, so the
caller can check the group's daily cap before calling and record the spend after. A source never
decides what a hit means: checking (quote in the fetched page, date, lookback, exclusions,
attribution) is the discovery step's, in plain code.
"""

from __future__ import annotations

from typing import Protocol

from gtm_pipeline.domain.signals import Hit, Query, QueryKind


class SourceFailed(Exception):
    """A source that could not answer (after its own retries): ``reason`` is short and stable
    (``http_429``, ``http_503``, ``timeout``, ``malformed``, ``unreachable``, ``no_key``)."""

    def __init__(self, source: str, reason: str, detail: str = "") -> None:
        super().__init__(f"{source}: {reason}" + (f": {detail}" if detail else ""))
        self.source, self.reason, self.detail = source, reason, detail


class DiscoverySource(Protocol):
    """A place discovery asks. ``kinds`` are the query kinds it answers."""

    @property
    def name(self) -> str: ...

    @property
    def kinds(self) -> frozenset[QueryKind]: ...

    @property
    def paid(self) -> bool: ...

    def cost_usd(self, query: Query) -> float:
        """What one call for ``query`` costs at list price (0 for free sources)."""
        ...

    def search(self, query: Query) -> list[Hit]:
        """The hits for ``query``, or :class:`SourceFailed`."""
        ...
