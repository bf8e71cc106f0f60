"""Every public input of the receiver is bounded and typed: what is malformed gets a 4xx and stores
nothing, and a 5xx is left for the store's own faults (Resend retries a 5xx for hours)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from gtm_pipeline.outreach.local_server import serving
from gtm_pipeline.outreach.receiver import MAX_BODY_BYTES
from gtm_pipeline.outreach.webhook_events import nesting_depth
from gtm_pipeline.store import Store
from tests.receiver_kit import SETTINGS, TOUCH, fresh_store, receiver, signed, template_store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return fresh_store(template_store(tmp_path), "bounds")


def _raw_request(base: str, head: str, chunks: list[bytes], wait: float) -> bytes:
    """Send a request head and body bytes over a plain socket, send nothing more, and return what
    the server answers within ``wait`` seconds (b"" if it is still waiting for the rest)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        sock.sendall(head.encode())
        for chunk in chunks:
            sock.sendall(chunk)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer:
                part = sock.recv(4096)
                if not part:
                    break
                answer += part
        except TimeoutError:
            pass
        return answer


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_cap(store: Store) -> None:
    """The rest of the body is never sent: a receiver that buffers the whole body before looking at
    its size would still be waiting; this one has answered 413 from the bytes past the cap."""
    chunk = b"x" * 16384
    frames = [f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"] * (MAX_BODY_BYTES // len(chunk) + 2)
    head = "POST /webhooks/resend HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    with serving(receiver(store)) as base:
        answer = _raw_request(base, head, frames, wait=5)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert store.inbox.outcomes() == []


def test_a_body_that_stops_arriving_is_refused_after_the_receive_timeout(store: Store) -> None:
    head = "POST /webhooks/resend HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n"
    with serving(receiver(store, receive_timeout=0.5)) as base:
        started = time.monotonic()
        answer = _raw_request(base, head, [b'{"type": "email.'], wait=5)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert 0.4 < waited < 4


def _post(client: TestClient, event: Any, msg_id: str = "msg_1") -> Any:
    raw, headers = signed(event, msg_id)
    return client.post("/webhooks/resend", content=raw, headers=headers)


@pytest.mark.parametrize(
    "event",
    [
        {"type": "email.bounced", "data": {"email_id": "em_1", "bounce": "Permanent"}},
        {"type": "email.complained", "data": {"email_id": "em_1", "to": 5}},
        {"type": "email.complained", "data": {"email_id": {"id": "em_1"}}},
        {"type": "email.delivered", "data": {"tags": [{"name": [], "value": 1}]}},
        {"type": "email.delivered", "data": {"tags": {"touch_id": 7}}},
        {"type": "email.received", "data": {"email_id": "rcv_1", "to": [1, 2]}},
        {"type": "email.received", "data": {"email_id": "rcv_1", "from": ["a@b.example"]}},
        {"type": 7, "data": {}},
        {"type": "email.delivered", "data": ["not", "an", "object"]},
        {"type": "x" * 61, "data": {}},
        ["not", "an", "event"],
    ],
    ids=lambda e: json.dumps(e)[:60],
)
def test_a_signed_event_with_a_wrong_type_is_a_422(store: Store, event: Any) -> None:
    with TestClient(receiver(store), raise_server_exceptions=False) as client:
        answer = _post(client, event)
    assert answer.status_code == 422, answer.text
    assert "@" not in answer.text  # where it is wrong, never what it holds
    assert store.inbox.outcomes() == []


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,  # json recursed into this and raised RecursionError: a 500
        json.dumps({"type": "email.delivered", "data": {"deep": json.loads("[" * 40 + "]" * 40)}}),
        json.dumps({"type": "email.received", "data": {"email_id": "rcv_1", "to": ["\ud800@x.example"]}}),
        json.dumps({"type": "email.delivered", "data": {"email_id": "em\u0000_1"}}),
        '{"type": "email.delivered", "data": {"email_id": "em_1"}, "n": ' + "9" * 5000 + "}",
    ],
    ids=["nested-100000", "nested-41", "lone-surrogate", "nul", "huge-integer"],
)
def test_a_signed_body_outside_the_bounds_is_a_400(store: Store, body: str) -> None:
    with TestClient(receiver(store), raise_server_exceptions=False) as client:
        answer = _post(client, body)
    assert answer.status_code == 400, answer.text
    assert store.inbox.outcomes() == []


def test_the_nesting_scan_is_linear_on_hostile_bodies(store: Store) -> None:
    """Unauthenticated bytes are scanned before the signature is checked: a regular expression for
    JSON strings backtracked for a minute and a half on this body of 170 KB."""
    hostile = '"\\' * 85_000
    with TestClient(receiver(store), raise_server_exceptions=False) as client:
        started = time.monotonic()
        answer = client.post("/webhooks/resend", content=hostile.encode())
        took = time.monotonic() - started
    assert answer.status_code == 400
    assert took < 5, took


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    st.recursive(
        st.none() | st.integers() | st.text(alphabet='[]{}"\\ab', max_size=6),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text('[]{}"\\', max_size=4), inner, max_size=3)
        ),
        max_leaves=12,
    )
)
def test_the_nesting_scan_agrees_with_the_parser(value: Any) -> None:
    """Brackets and quotes inside strings never count; what the parser nests, the scan counts."""

    def depth(v: Any) -> int:
        if isinstance(v, list):
            return 1 + max((depth(x) for x in v), default=0)
        if isinstance(v, dict):
            return 1 + max((depth(x) for x in v.values()), default=0)
        return 0

    assert nesting_depth(json.dumps(value)) == depth(value)


def test_a_shallow_event_with_unknown_fields_is_stored_as_it_came(store: Store) -> None:
    """Typed where read, open elsewhere: a field Resend adds tomorrow never turns an event away."""
    event = {
        "type": "email.delivered",
        "created_at": "2026-11-23T10:01:00Z",
        "data": {
            "email_id": "em_known",
            "tags": [{"name": "touch_id", "value": TOUCH.touch_id}],
            "new": {"a": [1]},
        },
        "added_later": True,
    }
    with TestClient(receiver(store)) as client:
        answer = _post(client, event)
        contact = _post(
            client, {"type": "contact.created", "data": {"id": "c_1", "email": "x@y.example"}}, "m2"
        )
    assert answer.status_code == contact.status_code == 200
    rows = store.inbox.events(TOUCH.prospect_id)
    assert [r.payload for r in rows] == [event]  # correlated by the list-form tag, stored verbatim


def test_headers_and_content_length_out_of_bounds_are_4xx(store: Store) -> None:
    raw, headers = signed({"type": "email.delivered", "data": {}}, "m" * 129)
    with TestClient(receiver(store), raise_server_exceptions=False) as client:
        long_id = client.post("/webhooks/resend", content=raw, headers=headers)
        odd_length = client.post(
            "/webhooks/resend",
            content=b"{}",
            headers={"content-length": "\u00b2".encode("latin-1")},  # type: ignore[dict-item]
        )
    assert long_id.status_code == 400
    assert 400 <= odd_length.status_code < 500
    assert store.inbox.outcomes() == []


@pytest.mark.parametrize(
    "token",
    ["é", "t_1.é", "\u202e", "a" * 5000, ".", "t_1.", "t_1." + "0" * 24, "\U0001f600.abc"],
)
def test_a_malformed_unsubscribe_token_is_an_unknown_link(store: Store, token: str) -> None:
    """``hmac.compare_digest`` raises on non-ASCII text: a 500 for a link anyone can type."""
    with TestClient(receiver(store), raise_server_exceptions=False) as client:
        path = f"/unsubscribe/{quote(token, safe='')}"
        assert client.get(path).status_code == 404
        assert client.post(path).status_code == 404
    assert store.privacy.suppressions() == []


def test_the_real_token_still_unsubscribes(store: Store) -> None:
    token = SETTINGS.unsubscribe_token(TOUCH.touch_id)
    with TestClient(receiver(store)) as client:
        assert client.get(f"/unsubscribe/{token}").status_code == 200
        assert store.privacy.suppressions() == []
        forged = token[:-1] + ("1" if token.endswith("0") else "0")
        assert client.post(f"/unsubscribe/{forged}").status_code == 404
        assert client.post(f"/unsubscribe/{token}").status_code == 200
    assert store.privacy.suppression_reason(TOUCH.to_hash) == "unsubscribe"
