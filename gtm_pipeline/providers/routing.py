"""Provider routing: a group's ordered chain, failover, circuit breaking and client-side rate limits.

For each call the router walks the group's chain. A provider whose circuit is open is skipped.
A 429 means *wait*: the same provider is tried again after its ``retry-after`` (or a backoff),
for at most ``max_rate_wait_s`` in all, and the wait is pushed into the shared bucket so every
process slows down; it never falls through to a lesser provider (that is how a busy backfill
quietly became extractive research). Any other error (5xx, 529, timeouts, connection errors,
auth, truncated output) fails over to the next provider. The offline, extractive provider is in
the chain only where no live provider is configured, unless ``offline_fallback`` allows it.
Every attempt, skipped or made, is returned as a trail the runner journals with the result. A
circuit opens after ``failure_threshold`` consecutive failures and lets one trial call through
after ``cooldown_s``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from gtm_pipeline.providers.base import Provider, ProviderError, ProviderReply, SkillRequest

OFFLINE = "offline"
FIRST_BACKOFF_S = 1.0  # the backoff doubles with each 429; a retry-after, when given, is used instead


@dataclass(frozen=True)
class Attempt:
    """One step of a call's route (journaled; no key, no prompt, no body)."""

    provider: str
    model: str
    outcome: str  # ok | skipped:circuit_open | <ProviderError.kind>
    latency_ms: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "model": self.model,
            "outcome": self.outcome,
            "latency_ms": self.latency_ms,
        }


class NoProviderError(LookupError):
    """No provider of a group's chain is configured."""


class AllProvidersFailed(RuntimeError):
    """Every provider of the chain failed or was skipped for this call."""

    def __init__(self, trail: list[Attempt], message: str = "all providers failed") -> None:
        super().__init__(message + ": " + ", ".join(f"{a.provider}:{a.outcome}" for a in trail))
        self.trail = trail


class RateLimited(AllProvidersFailed):
    """A provider kept answering 429 for longer than the router waits: the call waits for a later
    run rather than going to a lesser provider."""


class CircuitBreaker:
    """Consecutive-failure circuit breaker for one provider (thread-safe)."""

    def __init__(
        self,
        failure_threshold: int = 5,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_out = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half_open" if self._clock() - self._opened_at >= self.cooldown_s else "open"

    def allow(self) -> bool:
        with self._lock:
            if self._opened_at is None:
                return True
            if self._clock() - self._opened_at < self.cooldown_s or self._trial_out:
                return False
            self._trial_out = True  # one trial call while half-open
            return True

    def release(self) -> None:
        """End a trial call without a verdict (the provider was busy, not failing)."""
        with self._lock:
            self._trial_out = False

    def record(self, ok: bool) -> None:
        with self._lock:
            self._trial_out = False
            if ok:
                self._failures, self._opened_at = 0, None
                return
            self._failures += 1
            if self._failures >= self.failure_threshold or self._opened_at is not None:
                self._opened_at = self._clock()


class Limiter(Protocol):
    """What the router needs of a rate limit: take a slot (sleeping until it comes), and hold every
    caller back for a while when the provider says so."""

    def acquire(self) -> None: ...

    def defer(self, seconds: float) -> None: ...


class Buckets(Protocol):
    """Token buckets shared across processes (the store's ``rate_buckets``)."""

    def reserve(self, name: str, interval_s: float, burst: int = 1) -> float: ...

    def defer(self, name: str, seconds: float) -> None: ...


class SharedRateLimiter:
    """A provider's rate held across every process, through the store's buckets."""

    def __init__(
        self,
        buckets: Buckets,
        name: str,
        rate_per_s: float,
        burst: int = 1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.buckets, self.name = buckets, name
        self.interval = 1.0 / rate_per_s
        self.burst = max(1, burst)
        self.sleep = sleep

    def acquire(self) -> None:
        wait = self.buckets.reserve(self.name, self.interval, self.burst)
        if wait > 0:
            self.sleep(wait)

    def defer(self, seconds: float) -> None:
        # the bucket runs ``burst`` slots ahead: hold it so the next slot starts ``seconds`` from now
        self.buckets.defer(self.name, seconds + (self.burst - 1) * self.interval)


class RateLimiter:
    """Client-side token bucket in one process (a router with no store: unit tests, tools)."""

    def __init__(self, rate_per_s: float, burst: int = 1) -> None:
        self.interval = 1.0 / rate_per_s
        self.burst = max(1, burst)
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now - (self.burst - 1) * self.interval, self._next)
            self._next = start + self.interval
            wait = start - now
        if wait > 0:
            time.sleep(wait)

    def defer(self, seconds: float) -> None:
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)


@dataclass
class ProviderRouter:
    """Routes calls over the configured providers (one router per process, shared by threads)."""

    providers: Mapping[str, Provider]
    rate_limits: Mapping[str, float] = field(default_factory=dict)
    failure_threshold: int = 5
    cooldown_s: float = 30.0
    max_rate_wait_s: float = 60.0
    offline_fallback: bool = False
    sleep: Callable[[float], None] = time.sleep
    breakers: dict[str, CircuitBreaker] = field(default_factory=dict)
    limiters: dict[str, Limiter] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.providers:
            self.breakers[name] = CircuitBreaker(self.failure_threshold, self.cooldown_s)
            rate = self.rate_limits.get(name)
            if rate:
                self.limiters[name] = RateLimiter(rate, burst=max(1, int(rate)))

    def share_limits(self, buckets: Buckets) -> None:
        """Hold each provider's rate across processes (through the store) instead of per process."""
        for name, rate in self.rate_limits.items():
            if rate and name in self.providers:
                self.limiters[name] = SharedRateLimiter(
                    buckets, f"provider:{name}", rate, burst=max(1, int(rate)), sleep=self.sleep
                )

    def route(self, names: list[str]) -> list[str]:
        """The providers a call of chain ``names`` may use, in order: the configured ones, without
        the offline provider when a live one is configured (unless ``offline_fallback``)."""
        configured = [name for name in names if name in self.providers]
        if self.offline_fallback or all(name == OFFLINE for name in configured):
            return configured
        return [name for name in configured if name != OFFLINE]

    def preferred(self, names: list[str]) -> str | None:
        """The provider a call of ``names`` is meant to get; a result from another is a fallback."""
        route = self.route(names)
        return route[0] if route else None

    def chain(self, names: list[str]) -> list[Provider]:
        """The configured providers of ``names``, in order."""
        return [self.providers[name] for name in names if name in self.providers]

    def first(self, names: list[str]) -> Provider:
        chain = self.chain(names)
        if not chain:
            raise NoProviderError(f"none of {names} is configured (configured: {sorted(self.providers)})")
        return chain[0]

    def complete(self, names: list[str], request: SkillRequest) -> tuple[ProviderReply, list[Attempt]]:
        """Call the first healthy provider of the route, failing over; returns the reply and the trail."""
        chain = [(name, self.providers[name]) for name in self.route(names)]
        if not chain:
            raise NoProviderError(f"none of {names} is configured (configured: {sorted(self.providers)})")
        trail: list[Attempt] = []
        for name, provider in chain:
            breaker = self.breakers[name]
            if not breaker.allow():
                trail.append(Attempt(name, provider.model, "skipped:circuit_open"))
                continue
            reply = self._call(name, provider, request, trail)
            if reply is not None:
                return reply, trail
        raise AllProvidersFailed(trail)

    def _call(
        self, name: str, provider: Provider, request: SkillRequest, trail: list[Attempt]
    ) -> ProviderReply | None:
        """One provider: its reply, or None to fail over. A 429 waits and tries the same provider
        again; past ``max_rate_wait_s`` it raises :class:`RateLimited` (no lesser provider)."""
        breaker, limiter = self.breakers[name], self.limiters.get(name)
        waited, backoff = 0.0, FIRST_BACKOFF_S
        while True:
            if limiter is not None:
                limiter.acquire()
            started = time.monotonic()
            try:
                reply = provider.complete(request)
            except ProviderError as exc:
                trail.append(
                    Attempt(name, provider.model, exc.kind, int((time.monotonic() - started) * 1000))
                )
                if exc.kind != "rate_limit":
                    breaker.record(ok=False)
                    return None
                wait = exc.retry_after if exc.retry_after is not None else backoff
                backoff *= 2
                if waited + wait > self.max_rate_wait_s:
                    breaker.release()  # a half-open trial ends here: busy says nothing of health
                    raise RateLimited(
                        trail, f"{name} rate-limited for over {self.max_rate_wait_s:g} s"
                    ) from exc
                waited += wait
                if limiter is not None:
                    limiter.defer(wait)  # every caller of this provider waits, then takes its slot
                else:
                    self.sleep(wait)
                continue
            breaker.record(ok=True)
            trail.append(Attempt(name, reply.model, "ok", int((time.monotonic() - started) * 1000)))
            return reply

    def health(self) -> dict[str, str]:
        """Circuit state per provider (for status pages and escalations)."""
        return {name: breaker.state for name, breaker in self.breakers.items()}
