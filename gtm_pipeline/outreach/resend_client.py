"""The one place that talks to Resend through the official SDK, and the only one that reads its key.

The SDK makes one HTTP call and never retries; retries are ours: 429 and 5xx (and
transport failures, which the SDK reports as 500) are retried with backoff that honours
``retry-after``, always with the same idempotency key, so a retry can never send twice.
4xx other than 429 are not retried: they need a fix, not a repeat - except 409
``concurrent_idempotent_requests`` (another process is sending this very touch, whose answer the
retry then gets).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import resend
from resend.exceptions import ResendError
from tenacity import RetryCallState, retry, retry_if_exception, stop_after_attempt, wait_exponential

from gtm_pipeline.config import Settings

RETRYABLE = {"429", "500", "502", "503", "504"}
_backoff = wait_exponential(multiplier=0.2, max=8)


CONCURRENT = "concurrent_idempotent_requests"  # 409: the same key's first request is still in flight


def concurrent(exc: BaseException) -> bool:
    """Resend is still handling another request with this idempotency key: wait, never fail."""
    return isinstance(exc, ResendError) and str(exc.code) == "409" and exc.error_type == CONCURRENT


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, ResendError) and (str(exc.code) in RETRYABLE or concurrent(exc))


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, ResendError):
        for name, value in exc.headers.items():
            if name.lower() == "retry-after":
                try:
                    return min(float(value), 30.0)
                except ValueError:
                    break
    return float(_backoff(state))


class SendingNotConfiguredError(RuntimeError):
    """No ``RESEND_API_KEY``: the pipeline drafts and reviews but does not send."""


@dataclass
class ResendClient:
    """Resend through the official SDK, pointed at ``api_url`` (the twin in tests and rehearsals)."""

    api_url: str
    max_attempts: int = 5

    @classmethod
    def connect(cls, api_key: str | None, api_url: str) -> ResendClient:
        """A client for this key and URL (the only place the key is handed to the SDK)."""
        if not api_key:
            raise SendingNotConfiguredError("RESEND_API_KEY is not set: sending is off")
        resend.api_key = api_key  # the SDK's configuration is module-global
        resend.api_url = api_url
        return cls(api_url=api_url)

    @classmethod
    def from_settings(cls, settings: Settings) -> ResendClient:
        return cls.connect(settings.secret("resend_api_key"), settings.sending.resend_api_url)

    def send(self, params: dict[str, Any], idempotency_key: str) -> str:
        """Send one email; returns the provider's email id. Retries keep the idempotency key."""

        @retry(
            retry=retry_if_exception(_retryable),
            wait=_wait,
            stop=stop_after_attempt(self.max_attempts),
            reraise=True,
        )
        def attempt() -> str:
            resend.api_url = self.api_url
            response = resend.Emails.send(
                cast(resend.Emails.SendParams, params), {"idempotency_key": idempotency_key}
            )
            return str(response["id"])

        return attempt()

    def received(self, email_id: str) -> dict[str, Any]:
        """A received email (body and headers) through the SDK's receiving API."""

        @retry(
            retry=retry_if_exception(_retryable),
            wait=_wait,
            stop=stop_after_attempt(self.max_attempts),
            reraise=True,
        )
        def attempt() -> dict[str, Any]:
            resend.api_url = self.api_url
            return dict(resend.Emails.Receiving.get(email_id))

        return attempt()
