"""Login, the signed session cookie and CSRF protection of the console.

The operator's password is the ``GTM_OPERATOR_PASSWORD`` secret (no password: no login,
the console refuses). A session is a cookie signed with a key kept under GTM_HOME
(``itsdangerous``; HttpOnly, SameSite=Strict, 12 hours); it carries the operator's name
and a random CSRF token that every POST must echo (form field or ``X-CSRF-Token``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from gtm_pipeline.config import Settings

COOKIE = "gtm_session"
MAX_AGE_S = 12 * 3600
MAX_FAILURES = 5  # wrong passwords within FAILURE_WINDOW_S before logins pause
FAILURE_WINDOW_S = 300.0


@dataclass(frozen=True)
class Session:
    operator: str
    csrf: str


class ConsoleAuth:
    """Checks the password, issues and reads sessions, checks CSRF tokens."""

    def __init__(self, key: bytes, password: str | None, operator: str = "operator") -> None:
        self._digest = hashlib.sha256(password.encode()).digest() if password else None
        self.operator = operator
        self._signer = URLSafeTimedSerializer(key, salt="gtm-console-session")
        self._failures: deque[float] = deque(maxlen=MAX_FAILURES)

    @classmethod
    def from_settings(cls, settings: Settings) -> ConsoleAuth:
        """The session key (configured, or generated once under home), password and operator name."""
        return cls(
            settings.signing_key("console"),
            settings.secret("operator_password"),
            settings.console.operator or "operator",
        )

    @property
    def enabled(self) -> bool:
        return self._digest is not None

    def locked_for(self, now: float | None = None) -> float:
        """Seconds until a login may be tried again (0 when open).

        The console binds to loopback by default, but behind a tunnel or proxy a password
        is all that stands in front of it: after a run of wrong passwords, attempts pause.
        """
        now = time.monotonic() if now is None else now
        if len(self._failures) < MAX_FAILURES:
            return 0.0
        return max(0.0, self._failures[0] + FAILURE_WINDOW_S - now)

    def check_password(self, candidate: str, now: float | None = None) -> bool:
        if self._digest is None:
            return False
        ok = hmac.compare_digest(hashlib.sha256(candidate.encode()).digest(), self._digest)
        if ok:
            self._failures.clear()
        else:
            self._failures.append(time.monotonic() if now is None else now)
        return ok

    def issue(self) -> str:
        return self._signer.dumps({"op": self.operator, "csrf": secrets.token_urlsafe(24)})

    def read(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        try:
            data = self._signer.loads(cookie, max_age=MAX_AGE_S)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict) or "op" not in data or "csrf" not in data:
            return None
        return Session(operator=str(data["op"]), csrf=str(data["csrf"]))

    @staticmethod
    def csrf_ok(session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(session.csrf, str(token))
