"""Posting one alert to Slack (incoming webhook) or Telegram (Bot API ``sendMessage``) over httpx.

Retries (``tenacity``): a 429, a 5xx, a timeout or a dropped connection is tried again, at most
:data:`MAX_TRIES` requests and :data:`MAX_WAIT_S` seconds of waiting per post. The wait the
channel asks for is honoured (Slack's ``Retry-After`` header, Telegram's
``parameters.retry_after``); when it is longer than what is left of the budget the post stops at
once and says when to try again (:attr:`PostFailed.retry_after_s`), so a pass never blocks for
minutes. Anything else (a revoked webhook, a wrong token or chat) fails at once: it needs a fix,
not a repeat. An error never carries the webhook URL or the bot token.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception

from gtm_pipeline.alerts.message import Alert

MAX_TRIES = 3
MAX_WAIT_S = 30.0
FIRST_BACKOFF_S = 1.0


class PostFailed(Exception):
    """A channel did not take a message: ``reason`` is stable (``http_429``, ``http_503``,
    ``timeout``, ``unreachable``, ``http_403``, ``refused``), ``transient`` says whether trying
    later may help, ``requests`` how many were made."""

    def __init__(
        self,
        channel: str,
        reason: str,
        detail: str = "",
        *,
        transient: bool,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"{channel}: {reason}" + (f": {detail}" if detail else ""))
        self.channel, self.reason, self.detail = channel, reason, detail
        self.transient, self.retry_after_s = transient, retry_after_s
        self.requests = 0


def _status_failure(channel: str, status: int, detail: str, retry_after_s: float | None) -> PostFailed:
    transient = status == 429 or status >= 500
    return PostFailed(channel, f"http_{status}", detail, transient=transient, retry_after_s=retry_after_s)


def _seconds(value: Any) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


class Channel(ABC):
    """One place alerts go. Subclasses make one request; :meth:`post` adds the retries."""

    name: str

    def __init__(self, *, timeout_s: float, transport: httpx.BaseTransport | None = None) -> None:
        self.timeout_s = timeout_s
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s), transport=transport, follow_redirects=False
        )

    def close(self) -> None:
        self._client.close()

    @abstractmethod
    def _secrets(self) -> tuple[str, ...]:
        """What must never appear in an error (the webhook URL, the token)."""

    @abstractmethod
    def _request(self, alert: Alert) -> httpx.Response:
        """One request posting ``alert``."""

    @abstractmethod
    def _check(self, response: httpx.Response) -> None:
        """Raise :class:`PostFailed` unless the channel took the message."""

    def _hide(self, text: str) -> str:
        for secret in self._secrets():
            if secret:
                text = text.replace(secret, "***")
        return text[:200]

    def _once(self, alert: Alert) -> None:
        try:
            response = self._request(alert)
        except httpx.TimeoutException as exc:
            raise PostFailed(self.name, "timeout", f"over {self.timeout_s:g}s", transient=True) from exc
        except httpx.TransportError as exc:
            raise PostFailed(
                self.name, "unreachable", self._hide(f"{type(exc).__name__}: {exc}"), transient=True
            ) from exc
        self._check(response)

    def post(
        self, alert: Alert, *, max_wait_s: float = MAX_WAIT_S, sleep: Callable[[float], None] = time.sleep
    ) -> int:
        """Post ``alert``; returns the number of requests made, or raises :class:`PostFailed` (with
        ``requests`` set) once the retries are spent or the failure is not worth repeating."""
        requests = 0

        def attempt() -> None:
            nonlocal requests
            requests += 1
            self._once(alert)

        def wait(state: RetryCallState) -> float:
            failure = state.outcome.exception() if state.outcome is not None else None
            hinted = getattr(failure, "retry_after_s", None)
            if isinstance(hinted, int | float):
                return float(hinted)
            return FIRST_BACKOFF_S * 2 ** (state.attempt_number - 1)

        def stop(state: RetryCallState) -> bool:
            return (
                state.attempt_number >= MAX_TRIES or state.idle_for + (state.upcoming_sleep or 0) > max_wait_s
            )

        retrying = Retrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, PostFailed) and exc.transient),
            wait=wait,
            stop=stop,
            sleep=sleep,
            reraise=True,
        )
        try:
            retrying(attempt)
        except PostFailed as failure:
            failure.requests = requests
            raise
        return requests


class SlackWebhook(Channel):
    """A Slack incoming webhook: ``POST {"text": ...}``; Slack answers ``200 ok``, or an HTTP error
    whose body names it (``invalid_token``, ``no_service``, ``channel_is_archived``) and, for 429,
    a ``Retry-After`` header."""

    name = "slack"

    def __init__(
        self, webhook_url: str, *, timeout_s: float, transport: httpx.BaseTransport | None = None
    ) -> None:
        super().__init__(timeout_s=timeout_s, transport=transport)
        self.webhook_url = webhook_url

    def _secrets(self) -> tuple[str, ...]:
        return (self.webhook_url,)

    @staticmethod
    def render(alert: Alert) -> dict[str, Any]:
        def escape(text: str) -> str:  # Slack's mrkdwn: these three are control characters
            return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

        lines = [escape(line) for line in alert.lines()]
        lines[0] = f"*{lines[0]}*"
        lines.append("  ".join(f"<{url}|{escape(label)}>" for label, url in alert.links))
        return {"text": "\n".join(lines), "unfurl_links": False, "unfurl_media": False}

    def _request(self, alert: Alert) -> httpx.Response:
        return self._client.post(self.webhook_url, json=self.render(alert))

    def _check(self, response: httpx.Response) -> None:
        if response.status_code == 200:
            return
        wait = _seconds(response.headers.get("retry-after"))
        raise _status_failure(self.name, response.status_code, self._hide(response.text.strip()), wait)


class TelegramBot(Channel):
    """A Telegram bot posting to one chat: ``POST /bot<token>/sendMessage``; Telegram answers
    ``{"ok": true, ...}`` or ``{"ok": false, "error_code", "description", "parameters":
    {"retry_after"}}``."""

    name = "telegram"

    def __init__(
        self,
        token: str,
        chat_id: str,
        *,
        api_url: str,
        timeout_s: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(timeout_s=timeout_s, transport=transport)
        self.token, self.chat_id, self.api_url = token, chat_id, api_url.rstrip("/")

    def _secrets(self) -> tuple[str, ...]:
        return (self.token,)

    @staticmethod
    def render(alert: Alert, chat_id: str) -> dict[str, Any]:
        lines = alert.lines() + [f"{label}: {url}" for label, url in alert.links]
        return {
            "chat_id": chat_id,
            "text": "\n".join(lines)[:4096],  # Telegram's limit for one message
            "link_preview_options": {"is_disabled": True},
        }

    def _request(self, alert: Alert) -> httpx.Response:
        return self._client.post(
            f"{self.api_url}/bot{self.token}/sendMessage", json=self.render(alert, self.chat_id)
        )

    def _check(self, response: httpx.Response) -> None:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 200 and isinstance(body, dict) and body.get("ok") is True:
            return
        if not isinstance(body, dict):
            raise _status_failure(self.name, response.status_code, self._hide(response.text.strip()), None)
        found = body.get("parameters")
        parameters: dict[str, Any] = found if isinstance(found, dict) else {}
        wait = _seconds(parameters.get("retry_after")) or _seconds(response.headers.get("retry-after"))
        status = int(body.get("error_code") or response.status_code)
        raise _status_failure(self.name, status, self._hide(str(body.get("description", ""))), wait)
