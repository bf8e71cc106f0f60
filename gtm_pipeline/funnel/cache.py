"""The last funnel computed per store, reused while nothing it reads has changed.

At 100,000 prospects a funnel costs about two CPU seconds (most of it reading the journal); the
console's charts, hypothesis and skills pages would pay that on every view. The journal is
append-only and every change the funnel can see appends to it (a state change, a reply, an
erasure's record, the hand-off of a draft), so its last row id, with the send ledger's size,
stamps the input: while the stamp is unchanged the computed funnel is still exact. A changed stamp
recomputes once. Each process keeps its own (a few stores at most: the oldest is dropped).
"""

from __future__ import annotations

import threading

from gtm_pipeline.funnel.compute import FunnelData
from gtm_pipeline.funnel.snapshot import take, version
from gtm_pipeline.store import Store

KEPT = 4  # stores remembered per process (a console serves one; tests open many)


class FunnelCache:
    """Computed funnels by store, each with the stamp it was computed at."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, tuple[tuple[int, int], FunnelData]] = {}

    def get(self, store: Store) -> FunnelData:
        """The store's funnel as of now: the held one if the stamp is unchanged, else a new one.
        (A replaced funnel is not closed: a request may still be reading it; it goes with its
        last reference.)"""
        key = store.engine.url.render_as_string(hide_password=True)
        stamp = version(store)
        with self._lock:
            held = self._held.get(key)
            if held is not None and held[0] == stamp:
                return held[1]
        data = FunnelData(take(store))  # outside the lock: a slow recompute blocks no reader
        with self._lock:
            self._held.pop(key, None)
            self._held[key] = (stamp, data)
            while len(self._held) > KEPT:
                self._held.pop(next(iter(self._held)))
        return data

    def clear(self) -> None:
        with self._lock:
            self._held.clear()


FUNNELS = FunnelCache()


def cached_funnel(store: Store) -> FunnelData:
    """The store's funnel, recomputed only when the journal or the send ledger has moved."""
    return FUNNELS.get(store)
