"""A digital twin of the Telegram Bot API's ``sendMessage``.

Speaks the Bot API's shape: ``POST /bot<token>/sendMessage`` with ``chat_id`` and ``text`` (JSON);
every answer is ``{"ok": true, "result": Message}`` or ``{"ok": false, "error_code",
"description"}``, the HTTP status mirroring ``error_code``: 401 ``Unauthorized`` for a wrong token,
400 ``Bad Request: chat not found`` for a chat the bot is not in, 400 for an empty text or one over
4096 characters, and 429 ``Too Many Requests: retry after N`` with ``parameters.retry_after`` under
its flood limit or when scripted.

Scripted faults (``twin.settings.script(...)``): ``rate_limit`` (429 + retry_after),
``server_error`` (500 JSON), ``unavailable`` (502 with an HTML page, as Telegram's front end
answers when the API is down), ``timeout`` (the answer comes after ``timeout_sleep_s``; nothing is
posted) and ``accept_then_fail`` (posted, then a 500). Messages posted are kept in
:attr:`TelegramTwin.messages`, in order.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from gtm_pipeline.domain.clock import SystemClock
from gtm_pipeline.twins.chat import MessageTwin
from gtm_pipeline.twins.server import Route, TwinRequest, TwinServer, TwinSettings

_JSON = {"content-type": "application/json"}
_WALL = SystemClock()  # the ``date`` of a sent message (Telegram stamps it with its own clock)


def _answer(
    status: int, description: str, retry_after: int | None = None
) -> tuple[int, dict[str, str], bytes]:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return status, _JSON, json.dumps(body).encode()


class _Routes(dict[tuple[str, str], Route]):
    """The one known token's route; any other ``/bot<token>/...`` is answered 401, as Telegram does."""

    def __init__(self, routes: dict[tuple[str, str], Route], unauthorized: Route) -> None:
        super().__init__(routes)
        self.unauthorized = unauthorized

    def get(self, key: tuple[str, str], default: Any = None) -> Any:
        found = super().get(key)
        if found is None and key[1].startswith("/bot") and not key[1].endswith("/*"):
            return self.unauthorized
        return found if found is not None else default


@dataclass
class TelegramTwin(MessageTwin):
    """Start with ``with TelegramTwin() as telegram:``; the bot API is at ``telegram.url``."""

    token: str = "123456789:TWIN-bot-token"
    chats: tuple[str, ...] = ("-1001234567890",)
    settings: TwinSettings = field(default_factory=TwinSettings)

    def __post_init__(self) -> None:
        self._start_keeping()
        self._ids = itertools.count(1)
        routes = _Routes({("POST", f"/bot{self.token}/sendMessage"): self._send}, self._unauthorized)
        self.server = TwinServer(routes, self.settings)

    # ------------------------------------------------------------ API

    def _unauthorized(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes]:
        return _answer(401, "Unauthorized")

    def _send(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes]:
        if request.fault == "rate_limit":
            wait = max(1, round(request.retry_after_s))
            return _answer(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        if request.fault == "server_error":
            return _answer(500, "Internal Server Error")
        if request.fault in ("unavailable", "overloaded"):
            return 502, {"content-type": "text/html"}, b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        if request.fault == "timeout":
            return _answer(504, "Gateway Timeout")
        try:
            body = request.json()
        except ValueError:
            return _answer(400, "Bad Request: can't parse JSON")
        if not isinstance(body, dict):
            return _answer(400, "Bad Request: can't parse JSON")
        chat, text = str(body.get("chat_id", "")), body.get("text")
        if not chat:
            return _answer(400, "Bad Request: chat_id is empty")
        if chat not in self.chats:
            return _answer(400, "Bad Request: chat not found")
        if not isinstance(text, str) or not text.strip():
            return _answer(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return _answer(400, "Bad Request: message is too long")
        with self._lock:
            self.messages.append(body)
            message_id = next(self._ids)
        if request.fault == "accept_then_fail":
            return _answer(500, "Internal Server Error")
        result = {
            "message_id": message_id,
            "chat": {"id": int(chat) if chat.lstrip("-").isdigit() else chat, "type": "supergroup"},
            "date": int(_WALL.now().timestamp()),
            "text": text,
        }
        return 200, _JSON, json.dumps({"ok": True, "result": result}).encode()
