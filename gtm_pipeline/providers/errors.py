"""Translate SDK exceptions into :class:`ProviderError` without leaking keys or bodies.

Only the exception class, the HTTP status and the server's retry hint survive: an SDK
error's text can echo request details, so it is never copied into our messages, logs or
the journal.
"""

from __future__ import annotations

from typing import Any

from gtm_pipeline.providers.base import ProviderError


def _retry_after(response: Any) -> float | None:
    headers = getattr(response, "headers", None) or {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return float(value) * scale
            except ValueError:
                return None
    return None


def classify(provider: str, exc: Exception) -> ProviderError:
    """Map any SDK exception (anthropic or openai: same shapes) to a ProviderError."""
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    if "Timeout" in name:
        return ProviderError(f"{provider}: timed out", retryable=True, kind="timeout")
    if "Connection" in name:
        return ProviderError(f"{provider}: connection failed", retryable=True, kind="connection")
    if status == 429:
        return ProviderError(
            f"{provider}: rate limited (429)",
            retryable=True,
            kind="rate_limit",
            retry_after=_retry_after(getattr(exc, "response", None)),
        )
    if status == 529 or "Overloaded" in name:
        return ProviderError(f"{provider}: overloaded ({status})", retryable=True, kind="overloaded")
    if status in (401, 403):
        return ProviderError(f"{provider}: authentication failed ({status})", retryable=False, kind="auth")
    if isinstance(status, int) and status >= 500:
        return ProviderError(f"{provider}: server error ({status})", retryable=True, kind="server_error")
    if isinstance(status, int):
        return ProviderError(f"{provider}: request refused ({status})", retryable=False, kind="bad_request")
    return ProviderError(f"{provider}: {name}", retryable=True, kind="server_error")
