"""Erasure and access follow the person, not the prospect (issue 15, item 3).

Over a rehearsed campaign: a replier, a third person named in a referral ("talk to kim@…") and a
sender whose message matched no touch are each erased by another form of their address, and no
form of any of them is left in any file under GTM_HOME; an access export holds the person's own
replies and the emails sent to them, and nobody else's.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from gtm_pipeline.domain.ids import email_hash, prospect_id
from gtm_pipeline.domain.person_forms import ERASED, PersonMatcher, parse_person
from gtm_pipeline.outreach.ingest import ingest
from gtm_pipeline.outreach.processing import InboxProcessor
from gtm_pipeline.pipeline.audit import replay_check
from gtm_pipeline.pipeline.privacy import erase, export, fulfil_access, fulfil_erasure, record_request
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.rehearsal import rehearse
from tests.helpers import run_all
from tests.test_privacy import personal_forms, scan

START = dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 12, 7, 10, tzinfo=dt.UTC)
DAYS = 30
REPLIER, REPLIER_NAME = "priya.raman@medibridge-health.example", "Priya Raman"
REFERRER = "hannah.cole@quietwater-hospice.example"
ASKER = "arjun.mehta@lumen-diagnostics.example"
TARGET = "kim@quietwater-hospice.example"  # named in the referrer's reply (the twin's referral text)
TARGET_SAYS = "Hannah forwarded your note to me; happy to set up a call next week."
STRANGER_NAME = "Jörg Brandt"
STRANGER = "Joerg.Brandt@bücher-praxis.example"  # a Unicode domain; punycode xn--bcher-praxis-dlb
STRANGER_PUNY = "joerg.brandt@xn--bcher-praxis-dlb.example"


def address_forms(address: str, name: str | None = None) -> list[bytes]:
    """Every spelling of an address a file could hold: as written, case-folded, URL-, JSON- and
    punycode-encoded (a JSON column on SQLite keeps ``\\u00fc`` escapes), and the name with it."""
    local, _, domain = address.rpartition("@")
    puny = domain.lower().encode("idna").decode()
    spellings = {address, address.lower(), address.upper(), f"{local}@{puny}", f"{local.lower()}@{puny}"}
    forms: set[str] = set()
    for text in spellings:
        escaped = json.dumps(text)[1:-1]
        forms |= {text, escaped, text.replace("@", "%40"), text.replace("@", "\\u0040")}
        forms.add(escaped.replace("@", "\\u0040"))
    if name:
        forms |= {name, name.upper(), json.dumps(name)[1:-1]}
    return sorted(f.encode() for f in forms)


def _stranger_writes(services: Services) -> int:
    """A message from someone never contacted, matching no touch, stored and processed as the
    receiver and the inbox processor do; returns the inbox row id."""
    received = {
        "id": "rcv_stranger",
        "from": f'"{STRANGER_NAME}" <{STRANGER}>',
        "to": ["hello@northwind-advisory.example"],
        "subject": "Who are you?",
        "text": f"Hello, I saw your name somewhere. Write to me at {STRANGER}.\n{STRANGER_NAME}",
        "headers": {
            "message-id": "<stranger-1@bücher-praxis.example>",
            "date": "Mon, 30 Nov 2026 09:00:00 +0000",
        },
    }

    def fetch(email_id: str) -> dict[str, Any]:
        assert email_id == "rcv_stranger"
        return received

    event = {
        "type": "email.received",
        "created_at": "2026-11-30T09:00:00Z",
        "data": {
            "email_id": "rcv_stranger",
            "from": received["from"],
            "to": received["to"],
            "subject": received["subject"],
        },
    }
    stored = ingest(services.store, "svix:msg_stranger", event, fetch)
    assert stored.new and stored.prospect_id is None
    processor = InboxProcessor(services.store, services.catalog, services.runner, fetch=fetch)
    (outcome,) = [o for o in processor.process(now=NOW) if o.event_id == stored.event_id]
    assert outcome.result.status == "unmatched"
    return stored.event_id


def _target_replies(services: Services) -> int:
    """The person named in the referral answers on the referrer's thread (In-Reply-To its touch):
    the reply is filed under the referrer's prospect, and the skill's classification quotes it."""
    referrer = prospect_id("quietwater-hospice.example")
    (touch,) = services.store.ledger.touches(referrer)
    received = {
        "id": "rcv_target",
        "from": f"Kim <{TARGET}>",
        "to": ["replies@inbound.northwind-advisory.example"],
        "subject": "Re: your note to Hannah",
        "text": f"{TARGET_SAYS} Thanks for reaching out.",
        "headers": {"in-reply-to": touch.message_id, "date": "Tue, 1 Dec 2026 09:00:00 +0000"},
    }
    event = {"type": "email.received", "data": {"email_id": "rcv_target", "from": received["from"]}}
    stored = ingest(services.store, "svix:msg_target", event, lambda _id: received)
    assert stored.prospect_id == referrer  # threaded to the referrer's touch
    InboxProcessor(services.store, services.catalog, services.runner, fetch=lambda _id: received).process(
        now=NOW
    )
    quoting = [e for e in services.store.journal.entries(referrer) if TARGET_SAYS in json.dumps(e.payload)]
    assert quoting and all(TARGET not in json.dumps(e.payload) for e in quoting)  # quoted without the address
    return stored.event_id


def _campaign(services: Services, behaviours: dict[str, str]) -> None:
    run_all(services)
    ids = {prospect_id(address.split("@")[1]): behaviour for address, behaviour in behaviours.items()}
    report = rehearse(services, behaviours=ids, start=START)
    assert all(report.states[pid] == "replied" for pid in ids), report.states


def test_person_forms_are_found_by_hash_whatever_their_spelling() -> None:
    matcher = PersonMatcher(email_hash(STRANGER_PUNY))
    held = [
        f'From: "{STRANGER_NAME}" <JOERG.BRANDT@XN--BCHER-PRAXIS-DLB.EXAMPLE>',
        "mailto:joerg.brandt%40b%C3%BCcher-praxis.example?subject=hi",
        json.dumps({"from": f"{STRANGER_NAME} <{STRANGER}>"}),  # escaped as a JSON column stores it
        "joerg.brandt+news@bücher-praxis.example",  # a sub-address is the same person to suppression
    ]
    for text in held:
        redacted, count = matcher.redact(text)
        assert count >= 1 and "brandt" not in redacted.lower() and ERASED in redacted, text
    # another person who shares a piece of the address is left alone
    others = "grace.joerg.brandt@bücher-praxis.example, joerg.brandt@bücher-praxis.example.org"
    assert matcher.redact(others) == (others, 0)
    # the name written with the address goes wherever it recurs in that record, not a word more
    text, _ = matcher.redact(f"talk to {STRANGER_NAME} <{STRANGER}>; {STRANGER_NAME} knows it all")
    assert text == f"talk to {ERASED}; {ERASED} knows it all"
    for form in (f'"{STRANGER_NAME}" <{STRANGER}>', f"mailto:{STRANGER.upper()}", STRANGER_PUNY):
        assert parse_person(form).subject_hash == email_hash(STRANGER_PUNY)


@pytest.mark.parametrize(
    ("address", "text", "left"),
    [
        ("o'neil@acme.example", "write to O'Neil@ACME.example today", "write to [erased] today"),
        ("o'neil@acme.example", json.dumps({"to": "o'neil@acme.example"}), '{"to": "[erased]"}'),
        ("kim&co@acme.example", "mailto:kim&co@acme.example", "mailto:[erased]"),
        (
            "kim+news@acme.example",
            "https://u.example/?email=kim%2Bnews%40acme.example&x=1",
            "https://u.example/?email=[erased]&x=1",
        ),
        ("kim@acme.example", "it's kim@acme.example, x=1&kim@acme.example", "it's [erased], x=1&[erased]"),
        ("kim@acme.example", "grace.kim@acme.example", "grace.kim@acme.example"),  # someone else
    ],
)
def test_addresses_with_any_legal_character_or_urlencoded_are_found(
    address: str, text: str, left: str
) -> None:
    """A local part may hold ' & + and more (RFC 5322), and a +tag urlencoded in a link is %2B: each
    is the person, in the sentence or query string around it, and nothing more is taken."""
    redacted, _count = PersonMatcher(email_hash(address)).redact(text)
    assert redacted == left


def test_after_erasure_no_form_of_a_replier_a_referral_target_or_an_unmatched_sender_is_left(
    services: Services, gtm_home: Path
) -> None:
    _campaign(services, {REPLIER: "interested", REFERRER: "referral"})
    _target_replies(services)
    _stranger_writes(services)
    store = services.store
    people = {
        "replier": personal_forms(REPLIER, REPLIER_NAME) + address_forms(REPLIER),
        "target": [*address_forms(TARGET), TARGET_SAYS.encode()],
        "stranger": address_forms(STRANGER, STRANGER_NAME),
    }
    for who, forms in people.items():
        assert scan(gtm_home, forms), f"the scan must find the {who} before the erasure"

    replier = erase(
        store,
        f'"{REPLIER_NAME}" <{REPLIER.upper()}>',
        reason="request",
        now=NOW,
        response_days=DAYS,
        pages=None,
    )
    target = erase(
        store,
        "mailto:Kim@Quietwater-Hospice.example",
        reason="request",
        now=NOW,
        response_days=DAYS,
        pages=None,
    )
    # the stranger wrote in: the request is recorded (its hash only) and carried out later
    request = record_request(
        store, kind="erasure", email=f'"{STRANGER_NAME}" <{STRANGER_PUNY}>', now=NOW, response_days=DAYS
    )
    stranger = fulfil_erasure(store, request, now=NOW, reason="request", pages=None)

    # each report says where the person was found
    assert replier.prospect_ids == [prospect_id("medibridge-health.example")] and replier.counts["inbox"] >= 1
    assert target.prospect_ids == [] and target.counts["inbox_mentions"] == 1
    assert target.counts["journal_mentions"] >= 2  # the classification's quote and the transition
    assert target.counts["inbox_from_person"] == 1 and target.counts["journal_quoting_person"] >= 1
    assert stranger.prospect_ids == [] and stranger.counts["inbox_from_person"] == 1
    (row,) = [
        e
        for e in store.inbox.outcomes()
        if e["event_type"] == "email.received" and e["status"] == "unmatched"
    ]
    assert row["outcome"]["note"] == "no touch matches this event"  # what was decided stays
    # the referrer's record stays, with only the target taken out of it
    referrer = prospect_id("quietwater-hospice.example")
    (reply,) = [e for e in store.inbox.events(referrer) if e.raw_message]
    assert (
        "I am not the right person" in reply.raw_message
        and f"compliance lead, {ERASED}." in reply.raw_message
    )
    referred = next(e for e in store.journal.entries(referrer) if e.payload.get("category") == "referral")
    assert referred.payload["referral_to"] == ERASED and referred.payload["to_state"] == "replied"
    assert store.prospects.get(referrer).contact_email == REFERRER  # type: ignore[union-attr]
    # all three are blocked, in any form of their address, and every chain still verifies
    for form in (REPLIER.upper(), f"mailto:{TARGET}", STRANGER, STRANGER_PUNY, f"<{STRANGER.upper()}>"):
        assert store.privacy.suppression_reason(parse_person(form).subject_hash) is not None, form
    assert replay_check(store, anchors={}).ok
    services.close()
    for who, forms in people.items():
        assert scan(gtm_home, forms) == [], who


def test_an_export_holds_the_persons_own_replies_and_emails_and_no_one_elses(services: Services) -> None:
    _campaign(services, {REPLIER: "interested", REFERRER: "referral", ASKER: "question"})
    _stranger_writes(services)
    store = services.store
    mine = export(store, REPLIER, now=NOW, response_days=DAYS)
    (reply,) = mine["replies"]
    assert reply["text"].startswith("Thanks for reaching out") and reply["prospect_id"] == prospect_id(
        "medibridge-health.example"
    )
    (sent,) = mine["emails_sent"]
    (touch,) = store.ledger.touches(prospect_id("medibridge-health.example"))
    assert (sent["subject"], sent["text"]) == (touch.payload["subject"], touch.payload["text"])
    assert sent["status"] == "sent" and "Hi Priya" in sent["text"]
    dumped = json.dumps(mine, ensure_ascii=False)
    others = (
        REFERRER,
        ASKER,
        TARGET,
        STRANGER,
        "I am not the right person",
        "How would this work",
        "Hi Hannah",
    )
    assert [o for o in others if o.lower() in dumped.lower()] == []

    # the referrer's own reply is theirs; the address of the person they named is not
    theirs = export(store, REFERRER.upper(), now=NOW, response_days=DAYS)
    (told,) = theirs["replies"]
    assert "I am not the right person" in told["text"] and TARGET not in json.dumps(theirs)
    # the person named: where they were named, without the referrer's record
    named = export(store, TARGET, now=NOW, response_days=DAYS)
    assert named["prospects"] == [] and named["replies"] == [] and named["emails_sent"] == []
    assert {n["place"] for n in named["named_in"]} >= {
        "a message someone else sent us",
        "our record of decisions about someone else",
    }
    assert all(n["held_as"] == [TARGET] for n in named["named_in"])
    assert REFERRER not in json.dumps(named) and "right person" not in json.dumps(named)
    # a sender matched to no prospect still gets their own message, from a request's hash alone
    request = record_request(store, kind="access", email=STRANGER_PUNY, now=NOW, response_days=DAYS)
    (message,) = fulfil_access(store, request, now=NOW)["replies"]
    assert message["subject"] == "Who are you?" and message["prospect_id"] is None

    # kim asks for erasure, then the referrer too: the entry redacted for kim becomes a full tombstone
    erase(store, TARGET, reason="request", now=NOW, response_days=DAYS, pages=None)
    assert export(store, TARGET, now=NOW, response_days=DAYS)["named_in"] == []
    referrer = prospect_id("quietwater-hospice.example")
    seq = next(e.seq for e in store.journal.entries(referrer) if e.payload.get("category") == "referral")
    assert "redacted" in store.journal.entries(referrer)[seq - 1].payload
    erase(store, REFERRER, reason="request", now=NOW, response_days=DAYS, pages=None)
    entry = store.journal.entries(referrer)[seq - 1]
    assert entry.payload == {
        "event": "reply_received",
        "from_state": "sent",
        "to_state": "replied",
        "allowed": True,
        "reason": "sent -> replied on reply_received",
        "category": "referral",  # the reply's class is decision metadata (the funnel counts it), no words
        "tombstone": {"reason": "request"},
    }
    assert replay_check(store, anchors={}).ok
