"""A fault between two writes on the receiver's path loses nothing and doubles nothing.

Each case first counts the writes its request makes on a clean store, then fails each of them in
turn on a fresh copy: the answer must be a 5xx (so Resend retries, or the person clicks again), the
store must hold neither the event nor its suppression, and the retry of the very same request must
do the whole of it - once, however often it comes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from gtm_pipeline.domain.ids import email_hash
from gtm_pipeline.outreach.ingest import Fetch
from gtm_pipeline.outreach.local_server import serving
from gtm_pipeline.outreach.processing import InboxProcessor
from gtm_pipeline.store import Store
from tests.receiver_kit import (
    ADDRESS,
    PID,
    SETTINGS,
    TOUCH,
    failing_write,
    fresh_store,
    receiver,
    signed,
    template_store,
)

COMPLAINT = {
    "type": "email.complained",
    "created_at": "2026-11-23T10:05:00Z",
    "data": {"email_id": "em_known", "to": [ADDRESS], "tags": {"touch_id": TOUCH.touch_id}},
}
# A hard bounce of an email the ledger never saw (sent before a restore, or by hand).
UNKNOWN_BOUNCE = {
    "type": "email.bounced",
    "created_at": "2026-11-23T10:05:00Z",
    "data": {
        "email_id": "em_unknown",
        "to": ["Kim Lee <kim@other.example>", "lee@other.example"],
        "bounce": {"type": "Permanent", "subType": "General", "message": "550 5.1.1 user unknown"},
    },
}
REPLY = {
    "type": "email.received",
    "created_at": "2026-11-23T10:05:00Z",
    "data": {"email_id": "rcv_1", "from": ADDRESS, "to": [f"replies+{TOUCH.touch_id}@mail.example"]},
}


def _reply_body(_email_id: str) -> dict[str, Any]:
    """The receiving API's answer for the reply: it says stop."""
    return {
        "from": ADDRESS,
        "to": [f"replies+{TOUCH.touch_id}@mail.example"],
        "subject": "Re: hello",
        "text": "Please unsubscribe me.",
        "headers": {"message-id": "<r1@acme.example>", "in-reply-to": TOUCH.message_id},
    }


def _webhook(event: dict[str, Any], msg_id: str) -> Callable[[str], httpx.Response]:
    # Svix's retries resend the same bytes with the same svix-id and a fresh signature: signed at
    # each send (the cases are built when the suite is collected, which can be minutes before).
    def send(base: str) -> httpx.Response:
        raw, headers = signed(event, msg_id)
        return httpx.post(f"{base}/webhooks/resend", content=raw, headers=headers, timeout=10)

    return send


def _one_click(base: str) -> httpx.Response:
    token = SETTINGS.unsubscribe_token(TOUCH.touch_id)
    return httpx.post(f"{base}/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}, timeout=10)


@dataclass(frozen=True)
class Case:
    name: str
    send: Callable[[str], httpx.Response]
    suppressed: dict[str, str]  # identity -> reason, after the retry
    transition: str | None  # the one journaled event processing makes of it
    fetch: Fetch | None = None
    webhook: bool = True


CASES = [
    Case(
        "complaint",
        _webhook(COMPLAINT, "msg_complaint"),
        {TOUCH.to_hash: "complaint", PID: "complaint"},
        "complained",
    ),
    Case(
        "hard bounce of an unknown email",
        _webhook(UNKNOWN_BOUNCE, "msg_bounce"),
        {email_hash("kim@other.example"): "hard_bounce", email_hash("lee@other.example"): "hard_bounce"},
        None,
    ),
    Case(
        "reply that says stop",
        _webhook(REPLY, "msg_reply"),
        {TOUCH.to_hash: "reply_unsubscribe", PID: "reply_unsubscribe"},
        "unsubscribed",
        fetch=_reply_body,
    ),
    Case(
        "one-click unsubscribe",
        _one_click,
        {TOUCH.to_hash: "unsubscribe", PID: "unsubscribe"},
        "unsubscribed",
        webhook=False,
    ),
]


def _transitions(store: Store, name: str) -> int:
    return sum(1 for e in store.journal.entries(PID) if e.payload.get("event") == name)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_fault_at_any_write_leaves_nothing_and_the_retry_does_all_of_it_once(
    tmp_path: Path, case: Case
) -> None:
    template = template_store(tmp_path)
    clean = fresh_store(template, "count")
    with serving(receiver(clean, case.fetch)) as base, failing_write(clean, None) as writes:
        assert case.send(base).status_code == 200
    clean.close()
    assert len(writes) >= 2, writes  # the event and at least one suppression
    for at in range(len(writes)):
        store = fresh_store(template, f"fault{at}")
        with serving(receiver(store, case.fetch)) as base:
            with failing_write(store, at):
                failed = case.send(base)
            assert failed.status_code == 500, (at, writes[at], failed.text)
            assert store.inbox.outcomes() == [], f"the event outlived a fault at {writes[at]}"
            assert store.privacy.suppressions() == [], f"a suppression outlived a fault at {writes[at]}"
            retried, repeated = case.send(base), case.send(base)
        assert retried.status_code == repeated.status_code == 200
        if case.webhook:
            assert (retried.json()["stored"], repeated.json()["stored"]) == (True, False)
        held = {s["identity"]: s["reason"] for s in store.privacy.suppressions()}
        assert held == case.suppressed, (at, writes[at])
        assert len(store.inbox.outcomes()) == 1
        later = dt.datetime(2026, 11, 23, 11, tzinfo=dt.UTC)
        InboxProcessor(store).process(now=later)
        InboxProcessor(store).process(now=later + dt.timedelta(minutes=1))
        if case.transition is not None:
            assert _transitions(store, case.transition) == 1, (at, writes[at])
        store.close()


def test_a_complaint_for_an_unknown_email_suppresses_what_it_names_and_says_so_only_then(
    tmp_path: Path,
) -> None:
    """It used to answer "suppressed" while suppressing nothing, never looking at ``data.to``."""
    store = fresh_store(template_store(tmp_path), "unknown")
    unknown = {
        "type": "email.complained",
        "data": {"email_id": "em_other", "to": ["Kim <KIM@Other.example>"]},
    }
    nobody = {"type": "email.complained", "data": {"email_id": "em_other2", "to": ["not an address"]}}
    with TestClient(receiver(store)) as client:
        named = client.post("/webhooks/resend", content=(p := signed(unknown, "msg_u"))[0], headers=p[1])
        unnamed = client.post("/webhooks/resend", content=(q := signed(nobody, "msg_n"))[0], headers=q[1])
    assert named.json()["suppressed"] == "complaint"
    assert store.privacy.suppression_reason(email_hash("kim@other.example")) == "complaint"
    assert unnamed.status_code == 200 and unnamed.json() == {
        "stored": True,
        "event_id": unnamed.json()["event_id"],
        "suppressed": None,
    }
    assert len(store.privacy.suppressions()) == 1
    assert store.privacy.suppression_reason(TOUCH.to_hash, PID) is None  # not the unrelated touch
    store.close()


def test_the_repeat_of_an_event_stored_without_its_suppression_applies_it(tmp_path: Path) -> None:
    """An event stored by the two-transaction receiver whose suppression then failed: Svix's next
    delivery of the same ``svix-id`` was answered "already stored" and the address stayed sendable."""
    store = fresh_store(template_store(tmp_path), "legacy")
    store.inbox.add_event(
        event_key="svix:msg_legacy",
        event_type="email.complained",
        payload=COMPLAINT,
        prospect_id=PID,
        touch_id=TOUCH.touch_id,
        provider_email_id="em_known",
    )
    raw, headers = signed(COMPLAINT, "msg_legacy")
    with TestClient(receiver(store)) as client:
        answer = client.post("/webhooks/resend", content=raw, headers=headers).json()
    assert answer["stored"] is False and answer["suppressed"] == "complaint"
    assert store.privacy.suppression_reason(TOUCH.to_hash) == "complaint"
    assert store.privacy.suppression_reason(PID) == "complaint"
    assert len(store.inbox.outcomes()) == 1
    store.close()
