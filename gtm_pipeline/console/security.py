"""Login, the session and CSRF protection of the console.

The operator's password is the ``GTM_OPERATOR_PASSWORD`` secret (no password: no login, the console
refuses). A session is a random id, held in the store (:class:`~gtm_pipeline.store.console_sessions.
ConsoleSessions`) and carried in a cookie signed with a key kept under GTM_HOME (``itsdangerous``;
HttpOnly, SameSite=Strict, 12 hours) with a random CSRF token that every POST must echo (form field
or ``X-CSRF-Token``). Because the session lives in the store, logging out ends it for every console
process at once, and "log out everywhere" ends them all; a copied cookie is worth nothing after.

Wrong passwords are counted per client (its address, hashed) in the store: after a run of them,
logins pause for that client only, so one guesser cannot lock the operator out from another address;
a ceiling over all clients together slows a guesser rotating addresses (behind a proxy every client
has the proxy's address and shares one count: give the console its own loopback port instead).
Each try is admitted and counted as a failure in one locked transaction before the password is
compared (:meth:`ConsoleAuth.attempt`), so parallel tries cannot get past the count together.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from gtm_pipeline.config import Settings
from gtm_pipeline.store.console_sessions import ConsoleSessions

COOKIE = "gtm_session"
MAX_AGE_S = 12 * 3600
MAX_FAILURES = 5  # wrong passwords from one client within FAILURE_WINDOW before its logins pause
MAX_FAILURES_ANYWHERE = 100  # from all clients together: someone rotating addresses is slowed too
FAILURE_WINDOW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class LoginAttempt:
    """What a password try came to: ``ok``, or refused; ``wait`` > 0 when it was not even compared
    because this client (or everyone) must pause first."""

    ok: bool
    wait: float = 0.0


def pause_for(now: dt.datetime, anywhere: int, failures: list[dt.datetime]) -> float:
    """Seconds a client must wait, given the wrong passwords within FAILURE_WINDOW from every client
    (``anywhere``) and its own (``failures``, oldest first)."""
    if anywhere >= MAX_FAILURES_ANYWHERE:
        return FAILURE_WINDOW.total_seconds()  # a guessing campaign from many addresses: all wait
    if len(failures) < MAX_FAILURES:
        return 0.0
    oldest_that_counts = failures[-MAX_FAILURES]
    return max(0.0, (oldest_that_counts + FAILURE_WINDOW - now).total_seconds())


@dataclass(frozen=True)
class Session:
    operator: str
    csrf: str
    session_id: str = ""


class ConsoleAuth:
    """Checks the password per client, starts, reads and ends sessions, checks CSRF tokens."""

    def __init__(
        self, key: bytes, password: str | None, sessions: ConsoleSessions, operator: str = "operator"
    ) -> None:
        self._digest = hashlib.sha256(password.encode()).digest() if password else None
        self.operator = operator
        self.sessions = sessions
        self._signer = URLSafeTimedSerializer(key, salt="gtm-console-session")

    @classmethod
    def from_settings(cls, settings: Settings, sessions: ConsoleSessions) -> ConsoleAuth:
        """The session key (configured, or generated once under home), password and operator name."""
        return cls(
            settings.signing_key("console"),
            settings.secret("operator_password"),
            sessions,
            settings.console.operator or "operator",
        )

    @property
    def enabled(self) -> bool:
        return self._digest is not None

    def locked_for(self, client: str) -> float:
        """Seconds until ``client`` may try a password again (0 when open).

        The console binds to loopback by default, but behind a tunnel or proxy a password is all
        that stands in front of it: after a run of wrong passwords from one client, its attempts
        pause; other clients are not affected."""
        now = self.sessions.store.now()
        since = now - FAILURE_WINDOW
        return pause_for(
            now, self.sessions.failures_anywhere_since(since), self.sessions.failures_since(client, since)
        )

    def attempt(self, candidate: str, client: str) -> LoginAttempt:
        """Try a password: admitted (and counted as a failure until it proves right) only while
        ``client`` is not paused, in one transaction, so the MAX_FAILURES-th wrong try is the last
        one compared however many arrive at once."""
        if self._digest is None:
            return LoginAttempt(ok=False)
        now = self.sessions.store.now()
        wait = self.sessions.admit_attempt(
            client, FAILURE_WINDOW, lambda anywhere, mine: pause_for(now, anywhere, mine)
        )
        if wait > 0:
            return LoginAttempt(ok=False, wait=wait)
        ok = hmac.compare_digest(hashlib.sha256(candidate.encode()).digest(), self._digest)
        if ok:
            self.sessions.clear_failures(client)
        return LoginAttempt(ok=ok)

    def check_password(self, candidate: str, client: str) -> bool:
        """Whether ``candidate`` is the password, tried as :meth:`attempt` does (a paused client's
        try is refused uncompared)."""
        return self.attempt(candidate, client).ok

    def issue(self) -> str:
        """Start a session and return its signed cookie value."""
        session_id = secrets.token_urlsafe(32)
        self.sessions.start(session_id, self.operator)
        return self._signer.dumps({"op": self.operator, "csrf": secrets.token_urlsafe(24), "sid": session_id})

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie stands for, or None: forged, expired, or ended by a logout."""
        if not cookie:
            return None
        try:
            data = self._signer.loads(cookie, max_age=MAX_AGE_S)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("op", "csrf", "sid")):
            return None
        if not self.sessions.live(data["sid"], dt.timedelta(seconds=MAX_AGE_S)):
            return None
        return Session(operator=data["op"], csrf=data["csrf"], session_id=data["sid"])

    def end(self, session: Session) -> None:
        self.sessions.end(session.session_id)

    def end_everywhere(self) -> int:
        return self.sessions.end_all()

    @staticmethod
    def csrf_ok(session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(session.csrf.encode(), str(token).encode())
