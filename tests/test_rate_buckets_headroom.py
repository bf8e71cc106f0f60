"""The shared bucket leaves half a provider's burst unused: a call that meets less delay on its way
than the first of a saturated stretch must not arrive early by the provider's count."""

from __future__ import annotations

from pathlib import Path

from gtm_pipeline.store import Store
from gtm_pipeline.store.rate_buckets import RateBuckets, headroom_burst

RATE = 20.0


def test_half_the_burst_goes_at_once_then_the_rate(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'gtm.sqlite'}")
    now = [1000.0]
    buckets = RateBuckets(store, wall=lambda: now[0])
    waits = [buckets.reserve("provider:bulk", 1 / RATE, 20) for _ in range(14)]
    assert waits[:10] == [0.0] * 10  # half of the provider's 20
    assert [round(w * RATE) for w in waits[10:]] == [1, 2, 3, 4]  # then one interval each
    now[0] += 2.0  # idle: the bucket fills again, to half the burst
    again = [buckets.reserve("provider:bulk", 1 / RATE, 20) for _ in range(11)]
    assert [round(w * RATE, 6) for w in again] == [0.0] * 10 + [1.0]
    store.close()


def test_a_provider_that_allows_one_at_a_time_keeps_one() -> None:
    assert [headroom_burst(b) for b in (0, 1, 2, 3, 4, 20, 21)] == [1, 1, 1, 2, 2, 10, 11]
