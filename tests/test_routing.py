"""Circuit breaking, client-side rate limiting, waiting on a 429 and the route a call may take."""

from __future__ import annotations

import time

import pytest

from gtm_pipeline.domain.contracts import Usage
from gtm_pipeline.providers.base import ProviderError, ProviderReply, SkillRequest
from gtm_pipeline.providers.routing import (
    AllProvidersFailed,
    CircuitBreaker,
    ProviderRouter,
    RateLimited,
    RateLimiter,
)


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


# ---------------------------------------------------------------- a 429 means wait; no silent downgrade


class Scripted:
    """A provider answering from a script: a ProviderError kind (with retry-after) or "ok"."""

    def __init__(self, name: str, *script: tuple[str, float | None]) -> None:
        self.name, self.model, self.script, self.calls = name, f"{name}-model", list(script), 0

    def complete(self, request: SkillRequest) -> ProviderReply:
        self.calls += 1
        kind, retry_after = self.script.pop(0) if self.script else ("ok", None)
        if kind == "ok":
            return ProviderReply("{}", self.name, self.model, Usage())
        raise ProviderError(f"{kind}", retryable=True, kind=kind, retry_after=retry_after)


REQUEST = SkillRequest("s", "1", "do", "voice", "contract", {}, {})


def _router(*providers: Scripted, **options: object) -> tuple[ProviderRouter, list[float]]:
    slept: list[float] = []
    router = ProviderRouter({p.name: p for p in providers}, sleep=slept.append, **options)  # type: ignore[arg-type]
    return router, slept


def test_a_429_waits_on_the_same_provider_and_never_falls_to_the_next() -> None:
    bulk = Scripted("bulk", ("rate_limit", 2.0), ("rate_limit", None), ("rate_limit", None))
    polish = Scripted("polish")
    router, slept = _router(bulk, polish)
    reply, trail = router.complete(["bulk", "polish"], REQUEST)
    assert reply.provider == "bulk" and polish.calls == 0
    assert [a.outcome for a in trail] == ["rate_limit"] * 3 + ["ok"]
    assert slept == [2.0, 2.0, 4.0]  # retry-after when given, else 1 s doubling with each 429
    assert router.breakers["bulk"].state == "closed"  # busy is not broken


def test_a_provider_busy_for_longer_than_the_router_waits_raises_rate_limited_not_a_downgrade() -> None:
    bulk = Scripted("bulk", *[("rate_limit", 30.0)] * 5)
    polish, offline = Scripted("polish"), Scripted("offline")
    router, slept = _router(bulk, polish, offline, max_rate_wait_s=60.0)
    with pytest.raises(RateLimited) as limited:
        router.complete(["bulk", "polish", "offline"], REQUEST)
    assert polish.calls == 0 and offline.calls == 0 and sum(slept) == 60.0
    assert "bulk rate-limited for over 60 s" in str(limited.value)


def test_the_offline_provider_never_stands_in_for_a_configured_live_one_unless_allowed() -> None:
    chain = ["bulk", "polish", "offline"]
    failing = [("server_error", None)]
    router, _ = _router(Scripted("bulk", *failing), Scripted("polish", *failing), Scripted("offline"))
    assert router.route(chain) == ["bulk", "polish"] and router.preferred(chain) == "bulk"
    with pytest.raises(AllProvidersFailed) as failed:
        router.complete(chain, REQUEST)
    assert [a.provider for a in failed.value.trail] == ["bulk", "polish"]
    allowed, _ = _router(Scripted("bulk", *failing), Scripted("offline"), offline_fallback=True)
    reply, _trail = allowed.complete(chain, REQUEST)
    assert reply.provider == "offline"
    demo, _ = _router(Scripted("offline"))  # no live provider configured: the offline one is the chain
    assert demo.route(chain) == ["offline"] and demo.complete(chain, REQUEST)[0].provider == "offline"


def test_a_busy_half_open_trial_does_not_jam_the_circuit() -> None:
    clock = FakeClock()
    bulk = Scripted("bulk", *[("server_error", None)] * 5, *[("rate_limit", 61.0)] * 1)
    router = ProviderRouter({"bulk": bulk}, sleep=lambda s: None, max_rate_wait_s=60.0)  # type: ignore[dict-item]
    router.breakers["bulk"] = CircuitBreaker(failure_threshold=5, cooldown_s=30, clock=clock)
    for _ in range(5):
        with pytest.raises(AllProvidersFailed):
            router.complete(["bulk"], REQUEST)
    clock.now = 31.0  # half-open: one trial, which is told to wait 61 s
    with pytest.raises(RateLimited):
        router.complete(["bulk"], REQUEST)
    reply, _ = router.complete(["bulk"], REQUEST)  # the next call is let through, not skipped forever
    assert reply.provider == "bulk"
