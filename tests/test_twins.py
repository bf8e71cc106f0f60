"""The Resend twin itself: a twin is only as useful as it is faithful where the real API is strict."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from typing import Any

import httpx
import pytest

from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.twins.resend_twin import ResendTwin

EMAIL = {"from": "a@mail.x.example", "to": ["b@y.example"], "subject": "hi", "text": "hello"}


def _post(
    twin: ResendTwin, body: dict[str, Any], key: str | None = None, api_key: str | None = None
) -> httpx.Response:
    headers = {"authorization": f"Bearer {api_key or twin.api_key}"}
    if key:
        headers["idempotency-key"] = key
    return httpx.post(f"{twin.url}/emails", json=body, headers=headers, timeout=10)


def test_the_same_key_and_payload_replay_the_answer_and_another_payload_is_refused() -> None:
    with ResendTwin() as twin:
        first = _post(twin, EMAIL, key="touch/1")
        again = _post(twin, EMAIL, key="touch/1")
        other = _post(twin, {**EMAIL, "subject": "changed"}, key="touch/1")
        assert first.status_code == again.status_code == 200 and first.json() == again.json()
        assert other.status_code == 409 and other.json()["name"] == "invalid_idempotent_request"
        assert len(twin.emails) == 1


def test_concurrent_requests_with_one_key_send_one_email_and_refuse_the_others_while_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with ResendTwin() as twin:
        accept = twin._accept

        def slow(params: dict[str, Any]) -> dict[str, Any]:
            time.sleep(0.3)  # the first request is still being accepted when the others arrive
            return accept(params)

        monkeypatch.setattr(twin, "_accept", slow)
        start = threading.Barrier(6)
        answers: list[httpx.Response] = []

        def send() -> None:
            start.wait()
            answers.append(_post(twin, EMAIL, key="touch/concurrent"))

        threads = [threading.Thread(target=send) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(twin.emails) == 1
        kinds = Counter((a.status_code, a.json().get("name")) for a in answers)
        assert kinds[(200, None)] >= 1 and kinds[(409, "concurrent_idempotent_requests")] >= 1
        assert set(kinds) <= {(200, None), (409, "concurrent_idempotent_requests")}
        assert _post(twin, EMAIL, key="touch/concurrent").status_code == 200  # done: replayed now


def test_a_missing_or_wrong_key_a_bad_body_and_scripted_faults_answer_as_resend_does() -> None:
    with ResendTwin() as twin:
        assert httpx.post(f"{twin.url}/emails", json=EMAIL, timeout=10).status_code == 401
        assert _post(twin, EMAIL, api_key="re_wrong").status_code == 403
        assert _post(twin, {"to": ["b@y.example"]}).status_code == 422
        twin.settings.script("rate_limit", "server_error")
        limited = _post(twin, EMAIL)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert _post(twin, EMAIL).status_code == 500
        sent = _post(twin, EMAIL)
        assert sent.status_code == 200
        fetched = httpx.get(
            f"{twin.url}/emails/{sent.json()['id']}",
            headers={"authorization": f"Bearer {twin.api_key}"},
            timeout=10,
        )
        assert fetched.status_code == 200 and fetched.json()["subject"] == "hi"
        assert len(twin.emails) == 1  # refused requests sent nothing


def test_two_send_passes_at_once_send_one_email_and_fail_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A schedule tick overlapping a manual `gtm send`: both passes try the same touch with its key."""
    from gtm_pipeline.outreach.resend_client import ResendClient

    with ResendTwin() as twin:
        accept = twin._accept
        monkeypatch.setattr(twin, "_accept", lambda params: (time.sleep(0.4), accept(params))[1])
        import resend

        saved, resend.api_key = resend.api_key, twin.api_key
        results: list[str] = []
        errors: list[BaseException] = []

        def one_pass() -> None:
            try:
                results.append(ResendClient(api_url=twin.url).send(dict(EMAIL), "gtm-touch/p_x/1"))
            except BaseException as exc:  # recorded: the assertion below names it
                errors.append(exc)

        try:
            threads = [threading.Thread(target=one_pass) for _ in range(2)]
            for thread in threads:
                thread.start()
                time.sleep(0.05)
            for thread in threads:
                thread.join()
        finally:
            resend.api_key = saved
        assert errors == [] and len(set(results)) == 1 and len(results) == 2  # the second got the first's id
        assert len(twin.emails) == 1


def test_a_key_in_flight_is_refused_as_concurrent_then_replayed_once_the_first_request_is_done(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Resend's documented answers, step by step: while the first request with a key is still being
    handled, the same key (same payload or not) gets 409 ``concurrent_idempotent_requests``; once it
    is done, the same payload gets the first answer and another payload 409
    ``invalid_idempotent_request``. One email in all."""
    with ResendTwin() as twin:
        accept, entered, release = twin._accept, threading.Event(), threading.Event()

        def held(params: dict[str, Any]) -> dict[str, Any]:
            entered.set()
            assert release.wait(10)
            return accept(params)

        monkeypatch.setattr(twin, "_accept", held)
        first: list[httpx.Response] = []
        sender = threading.Thread(target=lambda: first.append(_post(twin, EMAIL, key="touch/held")))
        sender.start()
        assert entered.wait(10)  # the first request is inside the twin, its email not yet accepted
        same = _post(twin, EMAIL, key="touch/held")
        other = _post(twin, {**EMAIL, "subject": "changed"}, key="touch/held")
        release.set()
        sender.join(10)
        assert (same.status_code, same.json()["name"]) == (409, "concurrent_idempotent_requests")
        assert (other.status_code, other.json()["name"]) == (409, "concurrent_idempotent_requests")
        (done,) = first
        assert done.status_code == 200
        replayed = _post(twin, EMAIL, key="touch/held")
        assert replayed.status_code == 200 and replayed.json() == done.json()
        refused = _post(twin, {**EMAIL, "subject": "changed"}, key="touch/held")
        assert (refused.status_code, refused.json()["name"]) == (409, "invalid_idempotent_request")
        assert len(twin.emails) == 1


def test_a_key_is_kept_24_hours_then_forgotten() -> None:
    start = dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)
    clock = ManualClock(start)
    with ResendTwin(clock=clock) as twin:
        first = _post(twin, EMAIL, key="touch/day").json()["id"]
        clock.set(start + dt.timedelta(hours=23, minutes=59))
        assert _post(twin, EMAIL, key="touch/day").json()["id"] == first  # still the first answer
        clock.set(start + dt.timedelta(hours=24))
        second = _post(twin, EMAIL, key="touch/day")
        assert second.status_code == 200 and second.json()["id"] != first  # a new email: Resend forgot
        assert len(twin.emails) == 2
        clock.set(start + dt.timedelta(hours=48))
        other = _post(twin, {**EMAIL, "subject": "changed"}, key="touch/day")
        assert other.status_code == 200  # an expired key is free for another payload too
