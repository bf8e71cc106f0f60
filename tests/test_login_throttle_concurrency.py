"""The console's login throttle under parallel tries (on SQLite here, on Postgres in the Postgres
pass): however many wrong passwords from one client arrive at once, at most MAX_FAILURES of them are
compared within the window, and the pause that follows holds for the right password too."""

from __future__ import annotations

from collections import Counter

import httpx

from gtm_pipeline.app import create_app
from gtm_pipeline.console.security import FAILURE_WINDOW, MAX_FAILURES, ConsoleAuth, LoginAttempt
from gtm_pipeline.outreach.local_server import serving
from gtm_pipeline.pipeline.services import Services
from tests.conftest import OPERATOR_PASSWORD, TEST_START
from tests.threads import at_once

PASSWORD = OPERATOR_PASSWORD
RACERS = 16


def test_parallel_wrong_passwords_are_compared_at_most_max_failures_times(app_services: Services) -> None:
    sessions = app_services.store.console_sessions
    guesser = "192.0.2.66"

    def guess(i: int) -> LoginAttempt:  # each its own ConsoleAuth, as separate console processes have
        return ConsoleAuth.from_settings(app_services.settings, sessions).attempt(f"wrong-{i}", guesser)

    attempts = at_once(RACERS, guess)
    compared = [a for a in attempts if a.wait == 0]
    assert len(compared) == MAX_FAILURES and not any(a.ok for a in attempts)
    assert all(0 < a.wait <= FAILURE_WINDOW.total_seconds() for a in attempts if a.wait)
    assert len(sessions.failures_since(guesser, TEST_START - FAILURE_WINDOW)) == MAX_FAILURES
    auth = ConsoleAuth.from_settings(app_services.settings, sessions)
    assert auth.attempt(PASSWORD, guesser).wait > 0  # paused: even the right password waits
    assert auth.attempt(PASSWORD, "192.0.2.10").ok  # another client is not


def test_parallel_login_posts_cannot_exceed_the_failure_budget(app_services: Services) -> None:
    sessions = app_services.store.console_sessions
    app = create_app(app_services.settings, services=app_services)
    with serving(app) as base:

        def post(i: int) -> int:
            with httpx.Client(base_url=base, timeout=60) as client:
                return client.post("/login", data={"password": f"wrong-{i}"}).status_code

        codes = Counter(at_once(RACERS, post))
        assert set(codes) <= {401, 429} and codes[401] >= MAX_FAILURES
        (client_address,) = {"127.0.0.1"}  # every request came over loopback
        assert len(sessions.failures_since(client_address, TEST_START - FAILURE_WINDOW)) == MAX_FAILURES
        with httpx.Client(base_url=base, timeout=60) as client:
            paused = client.post("/login", data={"password": PASSWORD})
        assert paused.status_code == 429 and int(paused.headers["retry-after"]) > 0
