"""The two schedulers' webhook signatures, checked before a byte of the body is believed (pure).

Cal.com: ``X-Cal-Signature-256`` is the hex HMAC-SHA256 of the raw body under the webhook's secret.
It signs no timestamp, so a replayed delivery verifies: the inbox's key (a hash of the body) is
what makes a replay a no-op. Calendly: ``Calendly-Webhook-Signature: t=<unix>,v1=<hex>``, the HMAC
of ``"<t>.<raw body>"`` under the signing key; ``t`` must be within a tolerance of the injected
clock, so an old delivery captured and sent again is refused.

Every comparison is constant-time on bytes (``hmac.compare_digest``), and each refusal says which
check failed (never the expected value), so an operator can tell a wrong secret from a stale clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

CALCOM_HEADER = "X-Cal-Signature-256"
CALENDLY_HEADER = "Calendly-Webhook-Signature"
MAX_HEADER = 600  # t= plus one or a few v1= hex digests; anything longer is not a signature


class SignatureError(ValueError):
    """A delivery whose signature does not hold: refused (4xx), nothing stored."""


def _hex_hmac(key: str, message: bytes) -> str:
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    """Constant-time, as bytes: a non-ASCII header cannot be compared as ``str`` and never matches."""
    return given.isascii() and hmac.compare_digest(given.strip().lower().encode(), expected.encode())


def calcom_signature(body: bytes, secret: str) -> str:
    """What Cal.com sends for ``body``: the twin signs with this, the receiver compares with it."""
    return _hex_hmac(secret, body)


def verify_calcom(body: bytes, header: str | None, secret: str) -> None:
    """Raise :class:`SignatureError` unless ``header`` is Cal.com's signature of ``body``."""
    if not header:
        raise SignatureError(f"missing {CALCOM_HEADER}")
    if len(header) > MAX_HEADER:
        raise SignatureError(f"{CALCOM_HEADER} too long")
    if not _same(header.removeprefix("sha256="), calcom_signature(body, secret)):
        raise SignatureError(f"{CALCOM_HEADER} does not match the body")


def calendly_signature(body: bytes, key: str, timestamp: int) -> str:
    """The ``Calendly-Webhook-Signature`` value Calendly sends for ``body`` signed at ``timestamp``."""
    return f"t={timestamp},v1={_hex_hmac(key, f'{timestamp}.'.encode() + body)}"


def _calendly_parts(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, eq, value = part.strip().partition("=")
        if not eq:
            continue
        if name == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None:
        raise SignatureError(f"{CALENDLY_HEADER} has no t=<unix seconds>")
    if not signatures:
        raise SignatureError(f"{CALENDLY_HEADER} has no v1= signature")
    return timestamp, signatures


def verify_calendly(body: bytes, header: str | None, key: str, *, now: dt.datetime, tolerance_s: int) -> int:
    """Raise :class:`SignatureError` unless ``header`` signs ``body`` at a time within ``tolerance_s``
    of ``now`` (the injected clock); returns the signed timestamp."""
    if not header:
        raise SignatureError(f"missing {CALENDLY_HEADER}")
    if len(header) > MAX_HEADER:
        raise SignatureError(f"{CALENDLY_HEADER} too long")
    timestamp, signatures = _calendly_parts(header)
    skew = abs(now.timestamp() - timestamp)
    if skew > tolerance_s:
        raise SignatureError(f"{CALENDLY_HEADER} timestamp is {int(skew)} s off (tolerance {tolerance_s} s)")
    expected = _hex_hmac(key, f"{timestamp}.".encode() + body)
    # Every v1 is compared (a rotated key may send two); no early exit tells which one failed.
    if not any([_same(given, expected) for given in signatures]):
        raise SignatureError(f"{CALENDLY_HEADER} does not match the body")
    return timestamp
