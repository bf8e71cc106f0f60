"""Security headers on every response of the app the console is mounted in.

The console shows names, addresses and replies, and acts on one click: its pages may not be framed
(clickjacking), run a script or style from anywhere but this origin (an injected tag does nothing
even if escaping ever failed), be sniffed into another type, leak their URL to a linked site, or
be kept by a browser or proxy cache. A pure ASGI middleware: it touches only the response's start
message, never the request body (the receiver streams that with its own limit).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
NO_STORE = (b"cache-control", b"no-store")
CACHEABLE_PREFIXES = ("/static/",)  # the console's own CSS and scripts: nothing personal


class SecurityHeaders:
    """Adds :data:`HEADERS` to every response and ``Cache-Control: no-store`` to every one but
    the static files (a header the route set itself is left as it is)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(HEADERS)
        if not str(scope.get("path", "")).startswith(CACHEABLE_PREFIXES):
            extra.append(NO_STORE)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _merged(message.get("headers", []), extra)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _merged(
    present: Iterable[tuple[bytes, bytes]], extra: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    headers = list(present)
    names = {name.lower() for name, _ in headers}
    return headers + [(name, value) for name, value in extra if name not in names]
