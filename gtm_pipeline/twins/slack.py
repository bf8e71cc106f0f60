"""A digital twin of a Slack incoming webhook.

Speaks what Slack documents for incoming webhooks: ``POST`` JSON with ``text`` to
``/services/T…/B…/<secret>``; ``200`` with the body ``ok``; errors as an HTTP status with a short
body naming them (``invalid_token`` 403 for a wrong secret, ``no_text`` 400, ``invalid_payload``
400 for a body that is not JSON); ``429`` with a ``Retry-After`` header (seconds) under its rate
limit (Slack allows about one message a second per webhook) or when scripted.

Scripted faults (``twin.settings.script(...)``): ``rate_limit`` (429 + Retry-After),
``server_error`` (500), ``unavailable`` (503), ``timeout`` (the answer comes after
``timeout_sleep_s`` and the message is not posted: the gateway gave up before Slack did) and
``accept_then_fail`` (posted, then a 500: the at-least-once case a sender cannot tell apart).
Every message posted is kept in :attr:`SlackTwin.messages`, in order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from gtm_pipeline.twins.chat import MessageTwin
from gtm_pipeline.twins.server import TwinRequest, TwinServer, TwinSettings

WORKSPACE, HOOK = "T0TWIN0001", "B0TWIN0001"
_TEXT = {"content-type": "text/plain; charset=utf-8"}


def _text(status: int, body: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    return status, {**_TEXT, **(headers or {})}, body.encode()


@dataclass
class SlackTwin(MessageTwin):
    """Start with ``with SlackTwin() as slack:`` and give the sender ``slack.webhook_url``."""

    secret: str = "twinsecret0000000000000000"
    settings: TwinSettings = field(default_factory=TwinSettings)

    def __post_init__(self) -> None:
        self._start_keeping()
        prefix = f"/services/{WORKSPACE}/{HOOK}"
        self.server = TwinServer(
            {("POST", f"{prefix}/{self.secret}"): self._post, ("POST", f"{prefix}/*"): self._wrong_secret},
            self.settings,
        )

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/services/{WORKSPACE}/{HOOK}/{self.secret}"

    # ------------------------------------------------------------ API

    def _wrong_secret(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes]:
        return _text(403, "invalid_token")

    def _post(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes]:
        if request.fault == "rate_limit":
            return _text(429, "rate_limited", {"retry-after": str(max(1, round(request.retry_after_s)))})
        if request.fault == "server_error":
            return _text(500, "internal_error")
        if request.fault in ("unavailable", "overloaded"):
            return _text(503, "service_unavailable")
        if request.fault == "timeout":
            return _text(504, "gateway_timeout")
        try:
            body = json.loads(request.body or b"")
        except ValueError:
            return _text(400, "invalid_payload")
        if not isinstance(body, dict):
            return _text(400, "invalid_payload")
        if not body.get("text") and not body.get("blocks"):
            return _text(400, "no_text")
        with self._lock:
            self.messages.append(body)
        if request.fault == "accept_then_fail":
            return _text(500, "internal_error")
        return _text(200, "ok")
