"""Provider routing: a group's ordered chain, failover, circuit breaking and client-side rate limits.

For each call the router walks the group's chain. A provider whose circuit is open is
skipped; a rate-limited provider is retried once after its ``retry-after`` when that is
short, otherwise the router fails over to the next provider on any error (429, 5xx, 529,
timeouts, connection errors, auth, truncated output). Every attempt, skipped or made, is
returned as a trail the runner journals with the result. A circuit opens after
``failure_threshold`` consecutive failures and lets one trial call through after
``cooldown_s``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gtm_pipeline.providers.base import Provider, ProviderError, ProviderReply, SkillRequest


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

    def __init__(self, trail: list[Attempt]) -> None:
        super().__init__("all providers failed: " + ", ".join(f"{a.provider}:{a.outcome}" for a in trail))
        self.trail = trail


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

    def record(self, ok: bool) -> None:
        with self._lock:
            self._trial_out = False
            if ok:
                self._failures, self._opened_at = 0, None
                return
            self._failures += 1
            if self._failures >= self.failure_threshold or self._opened_at is not None:
                self._opened_at = self._clock()


class RateLimiter:
    """Client-side token bucket: keeps a provider under its rate instead of collecting 429s."""

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


@dataclass
class ProviderRouter:
    """Routes calls over the configured providers (one router per process, shared by threads)."""

    providers: Mapping[str, Provider]
    rate_limits: Mapping[str, float] = field(default_factory=dict)
    failure_threshold: int = 5
    cooldown_s: float = 30.0
    max_retry_after_s: float = 5.0
    breakers: dict[str, CircuitBreaker] = field(default_factory=dict)
    limiters: dict[str, RateLimiter] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.providers:
            self.breakers[name] = CircuitBreaker(self.failure_threshold, self.cooldown_s)
            rate = self.rate_limits.get(name)
            if rate:
                self.limiters[name] = RateLimiter(rate, burst=max(1, int(rate)))

    def chain(self, names: list[str]) -> list[Provider]:
        """The configured providers of ``names``, in order."""
        return [self.providers[name] for name in names if name in self.providers]

    def first(self, names: list[str]) -> Provider:
        chain = self.chain(names)
        if not chain:
            raise NoProviderError(f"none of {names} is configured (configured: {sorted(self.providers)})")
        return chain[0]

    def complete(self, names: list[str], request: SkillRequest) -> tuple[ProviderReply, list[Attempt]]:
        """Call the first healthy provider of the chain, failing over; returns the reply and the trail."""
        chain = [(name, self.providers[name]) for name in names if name in self.providers]
        if not chain:
            raise NoProviderError(f"none of {names} is configured (configured: {sorted(self.providers)})")
        trail: list[Attempt] = []
        for name, provider in chain:
            breaker = self.breakers[name]
            if not breaker.allow():
                trail.append(Attempt(name, provider.model, "skipped:circuit_open"))
                continue
            for retry in range(2):
                limiter = self.limiters.get(name)
                if limiter is not None:
                    limiter.acquire()
                started = time.monotonic()
                try:
                    reply = provider.complete(request)
                except ProviderError as exc:
                    elapsed = int((time.monotonic() - started) * 1000)
                    trail.append(Attempt(name, provider.model, exc.kind, elapsed))
                    breaker.record(ok=False)
                    wait = exc.retry_after
                    if (
                        exc.kind == "rate_limit"
                        and retry == 0
                        and wait is not None
                        and wait <= self.max_retry_after_s
                    ):
                        time.sleep(wait)
                        if breaker.allow():
                            continue
                    break
                breaker.record(ok=True)
                trail.append(Attempt(name, reply.model, "ok", int((time.monotonic() - started) * 1000)))
                return reply, trail
        raise AllProvidersFailed(trail)

    def health(self) -> dict[str, str]:
        """Circuit state per provider (for status pages and escalations)."""
        return {name: breaker.state for name, breaker in self.breakers.items()}
