"""Fuzzing the two public endpoints: no body, header or token makes either answer 5xx.

Hypothesis draws Resend-shaped events with any JSON in any field, arbitrary text and bytes, and deep
nesting; signs them (validly, with the wrong key, stale, or not at all) under arbitrary ``svix-id``s;
and draws unsubscribe tokens from all of Unicode and from the real token, mutated. Derandomized
with a fixed number of examples, so CI runs the same few hundred cases every time, in seconds.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gtm_pipeline.domain.clock import SystemClock
from gtm_pipeline.twins.resend_twin import sign
from tests.receiver_kit import (
    ADDRESS,
    SECRET,
    SETTINGS,
    TOUCH,
    fresh_store,
    receiver,
    signed_headers,
    template_store,
)

FUZZ = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
WRONG_KEY = "whsec_" + base64.b64encode(b"another key, another sender....").decode()

_scalar = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
ANY_JSON = st.recursive(
    _scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
ADDRESSES = st.sampled_from([ADDRESS, "Kim <kim@other.example>", "no address", "@", "a@"]) | st.text(
    max_size=40
)
COMPLIANCE = st.sampled_from(["email.complained", "email.bounced", "email.suppressed", "email.received"])
TYPES = (
    COMPLIANCE
    | st.sampled_from(
        [
            "email.sent",
            "email.delivered",
            "email.delivery_delayed",
            "email.complained",
            "email.bounced",
            "email.suppressed",
            "email.failed",
            "email.opened",
            "email.received",
            "contact.created",
        ]
    )
    | st.text(max_size=70)
)
TOUCH_TAGS = st.fixed_dictionaries({"touch_id": st.just(TOUCH.touch_id) | st.text(max_size=30)}) | st.lists(
    st.fixed_dictionaries({"name": st.just("touch_id"), "value": st.text(max_size=30)}), max_size=2
)
EMAIL_IDS = st.sampled_from(["em_known", "em_other", "rcv_1"]) | st.text(max_size=90)
WELL_TYPED = st.fixed_dictionaries(
    {},
    optional={
        "email_id": EMAIL_IDS,
        "to": st.lists(ADDRESSES, max_size=3),
        "from": ADDRESSES,
        "tags": TOUCH_TAGS,
        "bounce": st.fixed_dictionaries({"type": st.sampled_from(["Permanent", "Transient", ""])}),
    },
)
ANY_FIELD = st.fixed_dictionaries(
    {},
    optional={
        "email_id": EMAIL_IDS | ANY_JSON,
        "to": st.lists(ADDRESSES, max_size=3) | ANY_JSON,
        "from": ADDRESSES | ANY_JSON,
        "tags": TOUCH_TAGS | ANY_JSON,
        "bounce": st.fixed_dictionaries({"type": ANY_JSON}) | ANY_JSON,
    },
)
DATA = WELL_TYPED | ANY_FIELD
CREATED = st.just("2026-11-23T10:00:00Z") | st.none() | st.text(max_size=30)
EVENTS = st.fixed_dictionaries(
    {"type": TYPES, "data": DATA}, optional={"created_at": CREATED}
) | st.fixed_dictionaries({"type": TYPES}, optional={"data": ANY_JSON, "created_at": ANY_JSON})
TEXT_BODIES = (
    EVENTS.map(json.dumps)
    | ANY_JSON.map(json.dumps)
    | st.text(max_size=200)
    | st.integers(1, 60_000).map(lambda n: "[" * n + "]" * n)
    | st.integers(1, 60_000).map(lambda n: '{"a":' * n + "1" + "}" * n)
)
LATIN1 = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")
MSG_IDS = st.uuids().map(lambda u: f"msg_{u.hex}") | st.text(LATIN1, min_size=1, max_size=140)


def _stop_reply(_email_id: str) -> dict[str, Any]:
    """The receiving API's answer for any reply: one that says stop (the suppressing path)."""
    return {
        "from": ADDRESS,
        "to": ["replies@mail.example"],
        "subject": "Re: hi",
        "text": "Please unsubscribe me.",
    }


def _headers(body: str, msg_id: str, signing: str) -> dict[str, bytes]:
    if signing == "valid":
        plain = signed_headers(body, msg_id)
    else:
        now = int(SystemClock().now().timestamp())
        key, ts = (WRONG_KEY, now) if signing == "wrong key" else (SECRET, now - 3600)
        plain = {"svix-id": msg_id, "svix-timestamp": str(ts), "svix-signature": sign(key, msg_id, ts, body)}
    return {name: value.encode("latin-1") for name, value in plain.items()}


def test_no_webhook_request_gets_a_5xx_and_only_signed_events_are_stored(tmp_path: Path) -> None:
    store = fresh_store(template_store(tmp_path), "fuzz-webhooks")
    with TestClient(receiver(store, _stop_reply), raise_server_exceptions=False) as client:

        @FUZZ
        @given(
            body=TEXT_BODIES,
            msg_id=MSG_IDS,
            signing=st.sampled_from(["valid", "wrong key", "stale", "unsigned"]),
        )
        def post_text(body: str, msg_id: str, signing: str) -> None:
            before = len(store.inbox.outcomes())
            headers = {} if signing == "unsigned" else _headers(body, msg_id, signing)
            answer = client.post("/webhooks/resend", content=body.encode(), headers=headers)
            assert answer.status_code < 500, (answer.status_code, answer.text, body[:200])
            if signing != "valid":
                assert 400 <= answer.status_code < 500
                assert len(store.inbox.outcomes()) == before

        @FUZZ
        @given(body=st.binary(max_size=400), msg_id=MSG_IDS)
        def post_bytes(body: bytes, msg_id: str) -> None:
            text = body.decode("latin-1")
            headers = _headers(text, msg_id, "valid")  # signed over other text than the bytes sent
            answer = client.post("/webhooks/resend", content=body, headers=headers)
            assert answer.status_code < 500, (answer.status_code, answer.text)

        post_text()
        post_bytes()
    store.close()


TOKENS = (
    st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
    | st.text(st.characters(exclude_categories=("Cs",)), max_size=8).map(
        lambda tail: SETTINGS.unsubscribe_token(TOUCH.touch_id) + tail
    )
    | st.integers(0, 49).map(lambda i: _flip(SETTINGS.unsubscribe_token(TOUCH.touch_id), i))
)


def _flip(token: str, at: int) -> str:
    """The real token with one character changed: a forgery one edit away."""
    return token[:at] + ("0" if token[at] != "0" else "1") + token[at + 1 :]


def test_no_unsubscribe_token_gets_a_5xx_and_only_the_real_one_unsubscribes(tmp_path: Path) -> None:
    store = fresh_store(template_store(tmp_path), "fuzz-tokens")
    real = SETTINGS.unsubscribe_token(TOUCH.touch_id)
    posted: list[str] = []
    with TestClient(receiver(store), raise_server_exceptions=False) as client:

        @FUZZ
        @given(token=TOKENS, method=st.sampled_from(["GET", "POST"]))
        def visit(token: str, method: str) -> None:
            answer = client.request(method, f"/unsubscribe/{quote(token, safe='')}")
            assert answer.status_code < 500, (answer.status_code, token)
            if token != real:
                assert answer.status_code >= 400
            elif method == "POST":
                posted.append(token)
            assert bool(store.privacy.suppressions()) == bool(posted)  # only the real token's POST

        visit()
    store.close()
