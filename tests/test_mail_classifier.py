"""The deterministic layer over 166 real bounces, complaints and auto-replies, and the reply rules."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gtm_pipeline.outreach.classify import deterministic
from gtm_pipeline.outreach.dates import return_date, revisit_date
from gtm_pipeline.outreach.machine_mail import classify_machine
from gtm_pipeline.outreach.mailparse import parse_mail
from gtm_pipeline.outreach.reply_rules import newest_text, rule_verdict
from tests.conftest import REPO

# The public sisimai/set-of-emails corpus (BSD 2-Clause, LICENSE kept beside the files).
MAIL_DIR = REPO / "tests" / "fixtures" / "mail" / "sisimai"
ALL = sorted(MAIL_DIR.glob("*.eml"))
# The day a message without a Date header is taken to have arrived (the caller's clock in production).
RECEIVED = dt.date(2026, 11, 24)


def test_the_fixture_corpus_is_complete() -> None:
    assert len(ALL) == 165  # 166 files with the LICENSE kept beside them
    assert (MAIL_DIR / "LICENSE").is_file()


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_real_message_is_recognised_as_its_kind(path: Path) -> None:
    verdict = classify_machine(parse_mail(path.read_bytes()), RECEIVED)
    name = path.name
    if name.startswith("arf-"):
        assert verdict is not None and verdict.kind == "complaint", verdict
    elif name.startswith("rfc3834-"):
        assert verdict is not None and verdict.kind in ("out_of_office", "auto_reply"), verdict
    elif name.startswith("not-a-bounce"):
        assert verdict is None or verdict.kind != "bounce", verdict
    else:
        assert verdict is not None and verdict.kind == "bounce", verdict
        assert verdict.hard is not None


@pytest.mark.parametrize(
    ("name", "hard", "status"),
    [
        ("lhost-postfix-01.eml", True, "5.1.1"),  # DSN: Action failed, Status 5.1.1
        ("rfc3464-01.eml", True, "5.1.1"),
        ("rhost-yahooinc-02.eml", False, "4.7.0"),  # a deferral is soft
        ("lhost-v5sendmail-01.eml", False, None),  # "Cannot send message for 4 days": still retrying
        ("lhost-kddi-02.eml", False, None),  # mailbox full
        ("lhost-apachejames-01.eml", True, None),  # 550 no such user, no DSN structure at all
    ],
)
def test_hard_and_soft_bounces_are_told_apart(name: str, hard: bool, status: str | None) -> None:
    verdict = classify_machine(parse_mail((MAIL_DIR / name).read_bytes()), RECEIVED)
    assert verdict is not None and verdict.kind == "bounce"
    assert verdict.hard is hard
    if status:
        assert verdict.status == status


def test_an_out_of_office_gives_its_return_date_and_a_default_when_it_gives_none() -> None:
    mail = parse_mail((MAIL_DIR / "rfc3834-01.eml").read_bytes())
    decided = deterministic(mail, dt.date(2005, 4, 29))
    assert decided is not None and decided.category == "out_of_office" and not decided.human
    assert decided.resume_on == dt.date(2005, 5, 5)
    plain = parse_mail(
        b"From: a@b.example\nSubject: Out of Office\nAuto-Submitted: auto-replied\n\nI am away on leave.\n"
    )
    fallback = deterministic(plain, dt.date(2026, 11, 24))
    assert fallback is not None and fallback.resume_on == dt.date(2026, 12, 8)  # 14 days


@pytest.mark.parametrize(
    "text",
    [
        "Please unsubscribe me.",
        "Take me off your list",
        "stop emailing me",
        "Bitte keine E-Mails mehr.",
        "Retirez-moi de votre liste, merci",
        "Por favor, darme de baja",
        "Não quero receber mais",
        "Graag afmelden",
        "Cancellami dalla lista",
        "STOP",
    ],
)
def test_stop_requests_in_any_common_phrasing_and_language(text: str) -> None:
    verdict = rule_verdict("Re: hello", newest_text(text))
    assert verdict is not None and verdict.category == "unsubscribe"


def test_complaints_and_erasure_requests_are_rules_not_judgement() -> None:
    complaint = rule_verdict("", "This is spam. I will report you to your provider.")
    assert complaint is not None and complaint.category == "complaint"
    erasure = rule_verdict("", "Please delete my personal data.")
    assert erasure is not None and erasure.category == "unsubscribe" and erasure.erasure_requested


def test_our_own_quoted_text_is_never_read_as_the_prospect_s_words() -> None:
    reply = (
        "Sounds interesting, what does it cost?\n\n"
        "On Mon, 23 Nov 2026 at 10:00, Alex <alex@mail.example> wrote:\n"
        '> ... reply "remove me" or unsubscribe at any time\n'
    )
    assert newest_text(reply) == "Sounds interesting, what does it cost?"
    assert rule_verdict("Re: hi", newest_text(reply)) is None
    signed = "Thanks, not for us.\n-- \nKim\nUnsubscribe from our newsletter: https://x.example"
    assert rule_verdict("", newest_text(signed)) is None


@pytest.mark.parametrize(
    ("phrase", "received", "expected"),
    [
        ("Circle back in Q3.", dt.date(2026, 11, 24), dt.date(2027, 7, 1)),
        ("Circle back in Q3.", dt.date(2026, 2, 10), dt.date(2026, 7, 1)),
        ("try us next quarter", dt.date(2026, 11, 24), dt.date(2027, 1, 1)),
        ("in the new year", dt.date(2026, 11, 24), dt.date(2027, 1, 1)),
        ("ping me in 3 months", dt.date(2026, 11, 24), dt.date(2027, 2, 24)),
        ("after March", dt.date(2026, 11, 24), dt.date(2027, 3, 1)),
        ("let's talk on 15 January", dt.date(2026, 11, 24), dt.date(2027, 1, 15)),
        ("no date here", dt.date(2026, 11, 24), None),
    ],
)
def test_revisit_dates_resolve_against_the_reply_s_own_date(
    phrase: str, received: dt.date, expected: dt.date | None
) -> None:
    assert revisit_date(phrase, received) == expected


def test_out_of_office_return_dates() -> None:
    received = dt.date(2026, 12, 20)
    assert return_date("Away from Dec 22 until January 5th.", received) == dt.date(2027, 1, 5)
    assert return_date("Back on 2027-01-04", received) == dt.date(2027, 1, 4)
    assert return_date("I am away.", received) is None
