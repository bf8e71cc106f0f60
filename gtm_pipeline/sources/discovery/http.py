"""What every discovery source shares: bounded retries, a client-side rate, and the keyless JSON client.

- **Retries** (``tenacity``): a 429, a 5xx or a timeout is tried again, at most :data:`MAX_TRIES`
  times in all and never sleeping more than :data:`MAX_WAIT_S` seconds in all. A ``Retry-After``
  the answer carries is honoured (seconds, or an HTTP date when a clock was given); one longer
  than what is left of the budget ends the retries at once rather than blocking a run. Anything
  else (a 4xx, a malformed answer, an unreachable host) fails at once.
- **Rate**: :class:`RateLimit` spaces the requests of one source in one process (EDGAR asks for
  10 requests per second at most, GDELT for one every five seconds).
- **Keyless APIs** (GDELT, Hacker News, EDGAR, the job boards) are read with :class:`JsonClient`:
  ``httpx`` over the fetcher's SSRF-guarded transport, so a name routed to a local twin
  (``fetch.connect_to``) is reached exactly as the fetcher reaches it (plain HTTP, still checked
  against ``fetch.allow``), with a User-Agent naming the product and a contact.

Every failure is a :class:`~gtm_pipeline.sources.discovery.base.SourceFailed` with a stable reason:
``http_<status>``, ``timeout``, ``malformed``, ``unreachable`` (``no_key`` is the registry's).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception

from gtm_pipeline.domain.clock import Clock
from gtm_pipeline.sources.addresses import AddressPolicy, AddressRefused, guarded_transport
from gtm_pipeline.sources.discovery.base import SourceFailed

MAX_TRIES = 3
MAX_WAIT_S = 10.0
FIRST_BACKOFF_S = 1.0  # then 2 s: used when an answer names no Retry-After
MAX_BODY_BYTES = 20_000_000
PRODUCT = "gtm-pipeline/0.1"

T = TypeVar("T")


class TransientFailure(SourceFailed):
    """A failure worth another try (429, 5xx, timeout), with the wait the server asked for."""

    def __init__(
        self, source: str, reason: str, detail: str = "", retry_after_s: float | None = None
    ) -> None:
        super().__init__(source, reason, detail)
        self.retry_after_s = retry_after_s


def retryable(reason: str) -> bool:
    return reason in ("http_429", "timeout") or (reason.startswith("http_5") and len(reason) == 8)


def failure_for_status(
    source: str, status: int, detail: str = "", retry_after_s: float | None = None
) -> SourceFailed:
    """The failure for an HTTP error status: transient for 429 and 5xx, final otherwise."""
    reason = f"http_{status}"
    if retryable(reason):
        return TransientFailure(source, reason, detail, retry_after_s)
    return SourceFailed(source, reason, detail)


def retry_after(value: str | None, clock: Clock | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds, or an HTTP date given a clock)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    if clock is None:
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - clock.now()).total_seconds())


def with_retries(
    call: Callable[[], T],
    *,
    max_tries: int = MAX_TRIES,
    max_wait_s: float = MAX_WAIT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call()``, tried again on a transient :class:`SourceFailed` within the bounds above; the last
    failure is raised as it was."""

    def wait(state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome is not None else None
        hinted = getattr(failure, "retry_after_s", None)
        if isinstance(hinted, int | float):
            return max(0.0, float(hinted))
        return FIRST_BACKOFF_S * 2 ** (state.attempt_number - 1)

    def stop(state: RetryCallState) -> bool:
        return state.attempt_number >= max_tries or state.idle_for + state.upcoming_sleep > max_wait_s

    retrying = Retrying(
        retry=retry_if_exception(lambda exc: isinstance(exc, SourceFailed) and retryable(exc.reason)),
        wait=wait,
        stop=stop,
        sleep=sleep,
        reraise=True,
    )
    return retrying(call)


class RateLimit:
    """At most ``per_s`` requests per second from this process (0: no limit); thread-safe."""

    def __init__(self, per_s: float) -> None:
        self.interval = 1.0 / per_s if per_s > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


def user_agent(contact: str, company: str | None = None) -> str:
    """A User-Agent naming the product and a person to write to (EDGAR wants a name and an email)."""
    who = f"{company} " if company else ""
    return f"{who}{PRODUCT} (+outbound research; contact: {contact})"


class JsonClient:
    """GET JSON from a keyless API through the SSRF guard, politely, with bounded retries."""

    def __init__(
        self,
        source: str,
        *,
        policy: AddressPolicy,
        user_agent: str,
        timeout_s: float,
        rate_per_s: float,
        clock: Clock | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.source, self.policy, self.clock, self.sleep = source, policy, clock, sleep
        self.timeout_s = timeout_s
        self.rate = RateLimit(rate_per_s)
        self._client = httpx.Client(
            transport=guarded_transport(policy, max_connections=4),
            headers={
                "user-agent": user_agent,
                "accept": "application/json",
                "accept-encoding": "gzip, deflate",
            },
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
        )

    @property
    def user_agent(self) -> str:
        return str(self._client.headers["user-agent"])

    def close(self) -> None:
        self._client.close()

    def get_json(self, url: str, params: Mapping[str, str | int] | None = None) -> Any:
        """The decoded JSON answer of ``GET url?params``, or :class:`SourceFailed`."""
        return with_retries(lambda: self._once(url, params), sleep=self.sleep)

    def _wire(self, url: str) -> str:
        """A name routed to a local twin is spoken to over plain HTTP (as the fetcher does)."""
        parts = urlsplit(url)
        if parts.hostname and self.policy.routed(parts.hostname):
            return urlunsplit(("http", parts.hostname, parts.path, parts.query, ""))
        return url

    def _once(self, url: str, params: Mapping[str, str | int] | None) -> Any:
        self.rate.wait()
        try:
            response = self._client.get(self._wire(url), params=dict(params or {}))
        except AddressRefused as exc:
            raise SourceFailed(self.source, "unreachable", str(exc)) from exc
        except httpx.TimeoutException as exc:
            raise TransientFailure(self.source, "timeout", f"over {self.timeout_s:g}s") from exc
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            raise SourceFailed(self.source, "unreachable", f"{type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if status != 200:
            wait = retry_after(response.headers.get("retry-after"), self.clock)
            raise failure_for_status(self.source, status, response.text[:200], wait)
        if len(response.content) > MAX_BODY_BYTES:
            raise SourceFailed(self.source, "malformed", f"answer over {MAX_BODY_BYTES} bytes")
        try:
            return response.json()
        except ValueError as exc:
            raise SourceFailed(self.source, "malformed", f"not JSON: {response.text[:120]!r}") from exc


def malformed(source: str, detail: str) -> SourceFailed:
    return SourceFailed(source, "malformed", detail)


def required(source: str, item: Any, key: str, kind: type | tuple[type, ...] = str) -> Any:
    """``item[key]``, which the API documents as always there with this type; else ``malformed``."""
    if not isinstance(item, dict):
        raise malformed(source, f"expected an object, got {type(item).__name__}")
    value = item.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise malformed(source, f"{key!r} missing or not {getattr(kind, '__name__', kind)}")
    return value


def iso_date(value: Any) -> dt.date | None:
    """The date of an ISO 8601 date or timestamp (``2025-03-01``, ``2025-03-01T12:00:00.000Z``)."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def epoch_date(seconds: Any) -> dt.date | None:
    """The UTC date of a Unix timestamp in seconds."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return None
    try:
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).date()
    except (OverflowError, OSError, ValueError):
        return None


def day_start(day: dt.date) -> int:
    """Unix seconds at 00:00 UTC of ``day``."""
    return int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp())
