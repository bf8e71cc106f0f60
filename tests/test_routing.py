"""Circuit breaking and client-side rate limiting, with a fake clock."""

from __future__ import annotations

import time

from gtm_pipeline.providers.routing import CircuitBreaker, RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_circuit_opens_after_consecutive_failures_and_lets_one_trial_through() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, cooldown_s=30, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record(ok=False)
    assert breaker.state == "closed"
    breaker.record(ok=False)
    assert breaker.state == "open" and not breaker.allow()
    clock.now = 30.0
    assert breaker.state == "half_open"
    assert breaker.allow() and not breaker.allow()  # exactly one trial call
    breaker.record(ok=False)  # the trial failed: open again for a full cooldown
    assert breaker.state == "open"
    clock.now = 60.0
    assert breaker.allow()
    breaker.record(ok=True)
    assert breaker.state == "closed" and breaker.allow()


def test_a_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=30, clock=FakeClock())
    breaker.record(ok=False)
    breaker.record(ok=True)
    breaker.record(ok=False)
    assert breaker.state == "closed"


def test_the_rate_limiter_spaces_calls() -> None:
    limiter = RateLimiter(rate_per_s=50, burst=1)
    started = time.monotonic()
    for _ in range(11):
        limiter.acquire()
    assert time.monotonic() - started >= 0.19  # 10 intervals of 20 ms after the first call
