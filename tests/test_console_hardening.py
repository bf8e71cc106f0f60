"""The console against a hostile or careless world: sessions that end when the operator says so,
a password throttle per client, headers on every page, bounded filters, broken skills on disk,
and a store nobody else on the machine can read (issue 15, item 5)."""

from __future__ import annotations

import datetime as dt
import re
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gtm_pipeline.app import create_app
from gtm_pipeline.config import load_settings
from gtm_pipeline.console.security import COOKIE, MAX_FAILURES, MAX_FAILURES_ANYWHERE, ConsoleAuth
from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.pipeline.services import Services
from tests.conftest import OPERATOR_PASSWORD, TEST_START
from tests.helpers import run_all

PASSWORD = OPERATOR_PASSWORD
PAGES = ["/", "/reviews", "/dead-letters", "/escalations", "/skills", "/charts", "/rights"]


def _client(services: Services, address: str = "203.0.113.7") -> TestClient:
    return TestClient(create_app(services.settings, services=services), client=(address, 50000))


def _login(client: TestClient, password: str = PASSWORD) -> int:
    return client.post("/login", data={"password": password}, follow_redirects=False).status_code


def _csrf(client: TestClient) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/reviews").text)
    assert found is not None
    return found.group(1)


def test_logout_ends_the_session_for_every_copy_of_its_cookie(app_services: Services) -> None:
    with _client(app_services) as client:
        assert _login(client) == 303
        cookie = client.cookies[COOKIE]
        assert client.get("/", follow_redirects=False).status_code == 200
        assert client.post("/logout", data={"csrf": _csrf(client)}, follow_redirects=False).status_code == 303
    with _client(app_services) as thief:  # the same cookie, copied before the logout
        thief.cookies.set(COOKIE, cookie)
        refused = thief.get("/", follow_redirects=False)
        assert refused.status_code == 303 and refused.headers["location"] == "/login"


def test_log_out_everywhere_ends_every_open_session(app_services: Services) -> None:
    with _client(app_services, "198.51.100.1") as laptop, _client(app_services, "198.51.100.2") as phone:
        assert _login(laptop) == 303 and _login(phone) == 303
        assert phone.get("/", follow_redirects=False).status_code == 200
        done = laptop.post("/logout/everywhere", data={"csrf": _csrf(laptop)}, follow_redirects=False)
        assert done.status_code == 303
        assert phone.get("/", follow_redirects=False).status_code == 303
        assert laptop.get("/", follow_redirects=False).status_code == 303
        assert _login(phone) == 303 and phone.get("/", follow_redirects=False).status_code == 200  # anew


def test_wrong_passwords_pause_logins_from_that_client_only_and_across_processes(
    app_services: Services,
) -> None:
    clock = app_services.clock
    assert isinstance(clock, ManualClock)
    with _client(app_services, "192.0.2.66") as guesser:
        for _ in range(MAX_FAILURES):
            assert _login(guesser, "wrong") == 401
            clock.set(clock.now() + dt.timedelta(seconds=1))
        paused = guesser.post("/login", data={"password": PASSWORD}, follow_redirects=False)
        assert paused.status_code == 429 and 290 <= int(paused.headers["retry-after"]) <= 300
    with _client(app_services, "192.0.2.10") as operator:  # another address: not locked out
        assert _login(operator) == 303
    # another console process (its own ConsoleAuth over the same store) sees the same failures
    other = ConsoleAuth.from_settings(app_services.settings, app_services.store.console_sessions)
    assert other.locked_for("192.0.2.66") > 0 and other.locked_for("192.0.2.10") == 0
    clock.set(clock.now() + dt.timedelta(minutes=5))
    assert other.locked_for("192.0.2.66") == 0
    with _client(app_services, "192.0.2.66") as guesser:
        assert _login(guesser) == 303


def test_a_session_older_than_its_lifetime_is_over_even_with_a_fresh_signature(
    app_services: Services,
) -> None:
    clock = app_services.clock
    assert isinstance(clock, ManualClock)
    with _client(app_services) as client:
        assert _login(client) == 303
        clock.set(clock.now() + dt.timedelta(hours=12, seconds=1))
        assert client.get("/", follow_redirects=False).status_code == 303


def test_every_page_carries_the_security_headers_and_no_inline_script(app_services: Services) -> None:
    run_all(app_services)
    with _client(app_services) as client:
        login = client.get("/login")
        assert login.headers["cache-control"] == "no-store"
        assert _login(client) == 303
        for path in PAGES:
            response = client.get(path)
            assert response.status_code == 200, path
            csp = response.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "'unsafe" not in csp
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "no-referrer"
            assert response.headers["cache-control"] == "no-store"
            html = response.text
            assert not re.search(r"<script(?![^>]*\bsrc=)", html), path  # no inline script
            assert not re.search(r"\son[a-z]+\s*=", html), path  # no inline event handler
            assert " style=" not in html, path  # no inline style (the CSP would block it)
        static = client.get("/static/console.js")
        assert static.status_code == 200 and static.headers.get("cache-control") != "no-store"
        assert client.get("/healthz").headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/?age=99999999999999999999", 400),
        ("/?age=-1", 400),
        ("/?age=%D9%A1%D9%A2", 400),  # Arabic-Indic digits: str.isdigit() says yes, the filter says no
        ("/?page_no=1000000000000000000000000000000", 400),
        ("/?page_no=0", 400),
        ("/?age=&page_no=", 200),  # an empty form field is no filter
        ("/?age=30", 200),
    ],
)
def test_numeric_filters_out_of_range_are_the_clients_mistake_not_a_500(
    app_services: Services, path: str, status: int
) -> None:
    with _client(app_services) as client:
        _login(client)
        assert client.get(path).status_code == status


def test_an_id_too_big_for_the_database_or_a_foreign_csrf_token_is_refused_cleanly(
    app_services: Services,
) -> None:
    with _client(app_services) as client:
        _login(client)
        csrf = _csrf(client)
        huge = client.post("/reviews/99999999999999999999999/approve", data={"csrf": csrf})
        assert huge.status_code == 422
        assert client.post("/escalations/0/ack", data={"csrf": csrf}).status_code == 422
        foreign = client.post("/reviews/1/approve", data={"csrf": "jeton-été"})
        assert foreign.status_code == 403


def test_a_broken_skill_file_gives_a_clear_page_not_a_500(app_services: Services) -> None:
    with _client(app_services) as client:
        _login(client)
        skill = next(Path(app_services.catalog.root).rglob("SKILL.md"))
        skill.write_text("---\nname: [unclosed\n---\n", encoding="utf-8")
        page = client.get("/skills")
        assert page.status_code == 503
        assert 'id="skills-broken"' in page.text and skill.parent.name in page.text
        assert "front matter" in page.text
        assert client.get("/").status_code == 200  # the rest of the console still works
        moved = client.post(
            f"/skills/{skill.parent.name}/promote", data={"csrf": _csrf(client)}, headers={"hx-request": "1"}
        )
        assert moved.status_code == 200 and "not promoted: the skills on disk cannot be read" in moved.text


def test_the_store_and_the_generated_keys_are_private_to_their_owner(gtm_home: Path) -> None:
    services = Services.from_settings(load_settings())
    try:
        run_all(services)
        services.settings.signing_key("console")
        backend = services.store.engine.dialect.name
    finally:
        services.close()
    if backend == "sqlite":  # on Postgres the server owns the files; the keys below are ours either way
        database = gtm_home / "gtm.sqlite"
        for path in [database, *database.parent.glob("gtm.sqlite-*")]:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    secrets = gtm_home / "secrets"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in secrets.iterdir())


def test_guessing_from_many_addresses_meets_a_ceiling_and_old_failures_are_forgotten(
    app_services: Services,
) -> None:
    clock = app_services.clock
    assert isinstance(clock, ManualClock)
    auth = ConsoleAuth.from_settings(app_services.settings, app_services.store.console_sessions)
    for n in range(MAX_FAILURES_ANYWHERE):  # one wrong password from each of many addresses
        assert not auth.check_password("wrong", f"2001:db8::{n:x}")
    assert auth.locked_for("2001:db8::ffff") > 0  # a fresh address is slowed too
    clock.set(clock.now() + dt.timedelta(days=2))
    auth.check_password("wrong", "2001:db8::1")  # a new failure prunes the old ones
    assert app_services.store.console_sessions.failures_anywhere_since(TEST_START) == 1
    assert auth.locked_for("2001:db8::ffff") == 0
