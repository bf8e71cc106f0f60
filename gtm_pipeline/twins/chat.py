"""What the chat twins (Slack, Telegram) share: the server's lifetime and the messages posted."""

from __future__ import annotations

import threading
from typing import Any, Self

from gtm_pipeline.twins.server import TwinServer


class MessageTwin:
    """A twin that keeps every message posted to it, in order; the subclass builds ``server``."""

    server: TwinServer
    messages: list[dict[str, Any]]
    _lock: threading.Lock

    def _start_keeping(self) -> None:
        self.messages = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.server.url

    def __enter__(self) -> Self:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    def texts(self) -> list[str]:
        with self._lock:
            return [str(m.get("text", "")) for m in self.messages]
