"""Reading a public endpoint's request body within bounds.

``Request.body()`` waits for the whole body and only then could a caller look at its size: a
chunked body (no ``Content-Length``) of tens of megabytes, from anyone, unauthenticated, sat in
memory before being refused. Here the cap is enforced while the bytes arrive - at most one chunk
past it is ever held - and the whole body must arrive within a deadline, so a client that trickles
bytes (or stops sending) cannot hold a worker and a buffer open.
"""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect, Request


class BodyRefusedError(Exception):
    """The body was not accepted; ``status`` is the 4xx that says why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _declared_length(request: Request) -> int | None:
    declared = request.headers.get("content-length")
    if declared is None:
        return None
    # str.isdigit() is true for "²" and other digits int() refuses: ASCII digits only.
    if not (declared.isascii() and declared.isdigit()):
        raise BodyRefusedError(400, "malformed Content-Length")
    return int(declared)


async def read_bounded(request: Request, *, limit: int, timeout: float) -> bytes:
    """The body, or :class:`BodyRefusedError`: 413 as soon as more than ``limit`` bytes are declared or
    received, 408 when it has not all arrived ``timeout`` seconds after the headers."""
    declared = _declared_length(request)
    if declared is not None and declared > limit:
        raise BodyRefusedError(413, "body too large")
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise BodyRefusedError(413, "body too large")
    except TimeoutError:
        raise BodyRefusedError(408, "body not received in time") from None
    except ClientDisconnect:
        raise BodyRefusedError(400, "the client went away before the body arrived") from None
    return bytes(body)
