"""Each deliverability rule on its own: from a touch that may go, change one fact, see its rule."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from gtm_pipeline.outreach.policy import SendContext, check, health_halt, next_window
from gtm_pipeline.outreach.settings import SendingSettings

SETTINGS = SendingSettings(unsubscribe_secret=b"k")
TUESDAY_10 = dt.datetime(2026, 11, 24, 10, tzinfo=dt.UTC)
CLEAR = SendContext(
    now=TUESDAY_10,
    recipient_timezone="UTC",
    blocked_artifact=False,
    domain_halted=None,
    pending_inbound=0,
    last_touch_at=None,
    mailbox_sent_today=0,
    domain_sent_today=0,
    mailbox_cap_today=5,
    suppressed=None,
)


def test_a_touch_with_nothing_against_it_goes() -> None:
    verdict = check(CLEAR, SETTINGS)
    assert (verdict.outcome, verdict.rule) == ("send", "policy:ok")


@pytest.mark.parametrize(
    ("change", "outcome", "rule", "not_before"),
    [
        ({"blocked_artifact": True}, "refuse", "policy:output-policy", None),
        ({"domain_halted": "bounce rate 5/100"}, "defer", "policy:domain-halt", None),
        ({"pending_inbound": 2}, "defer", "policy:unprocessed-inbound", None),
        (
            {"last_touch_at": TUESDAY_10 - dt.timedelta(hours=10)},
            "defer",
            "policy:spacing",
            TUESDAY_10 + dt.timedelta(hours=62),
        ),
        (
            {"mailbox_sent_today": 5},
            "defer",
            "policy:mailbox-cap",
            dt.datetime(2026, 11, 25, tzinfo=dt.UTC),
        ),
        (
            {"domain_sent_today": SETTINGS.domain_daily_cap},
            "defer",
            "policy:domain-cap",
            dt.datetime(2026, 11, 25, tzinfo=dt.UTC),
        ),
        (
            {"now": dt.datetime(2026, 11, 24, 18, tzinfo=dt.UTC)},
            "defer",
            "policy:send-window",
            dt.datetime(2026, 11, 25, 9, tzinfo=dt.UTC),
        ),
        (
            {"recipient_timezone": "Asia/Kolkata"},  # 15:30 in Kolkata: inside the window
            "send",
            "policy:ok",
            None,
        ),
        (
            {"recipient_timezone": "America/Los_Angeles"},  # 02:00 in Los Angeles
            "defer",
            "policy:send-window",
            dt.datetime(2026, 11, 24, 17, tzinfo=dt.UTC),
        ),
        ({"suppressed": "complaint"}, "refuse", "policy:suppression", None),
    ],
)
def test_each_rule_decides_alone(
    change: dict[str, object], outcome: str, rule: str, not_before: dt.datetime | None
) -> None:
    verdict = check(replace(CLEAR, **change), SETTINGS)  # type: ignore[arg-type]
    assert (verdict.outcome, verdict.rule, verdict.not_before) == (outcome, rule, not_before)


def test_spacing_lifts_exactly_when_the_minimum_gap_has_passed() -> None:
    last = TUESDAY_10 - dt.timedelta(hours=SETTINGS.min_spacing_hours)
    assert check(replace(CLEAR, last_touch_at=last), SETTINGS).outcome == "send"
    closer = last + dt.timedelta(seconds=1)
    assert check(replace(CLEAR, last_touch_at=closer), SETTINGS).rule == "policy:spacing"


def test_a_breach_of_the_output_policy_outranks_everything_else() -> None:
    worst = replace(CLEAR, blocked_artifact=True, domain_halted="x", pending_inbound=3, suppressed="y")
    assert check(worst, SETTINGS).rule == "policy:output-policy"


def test_weekends_wait_for_monday_and_an_unknown_zone_falls_back_to_the_default() -> None:
    saturday = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)
    verdict = check(replace(CLEAR, now=saturday, recipient_timezone="Mars/Olympus"), SETTINGS)
    assert verdict.rule == "policy:send-window" and verdict.not_before == dt.datetime(
        2026, 11, 30, 9, tzinfo=dt.UTC
    )
    every_day = replace(SETTINGS, weekdays_only=False)
    from zoneinfo import ZoneInfo

    assert next_window(saturday, ZoneInfo("UTC"), every_day) is None


@pytest.mark.parametrize(
    ("sends", "bounces", "complaints", "halts"),
    [
        (200, 4, 0, False),  # 2.0 %: at the threshold, not above it
        (200, 5, 0, True),  # 2.5 %
        (10, 5, 0, False),  # too few sends to judge a bounce rate
        (10, 0, 1, True),  # a complaint counts at once, over at least health_min_sends
        (5000, 0, 2, False),  # 0.04 % of complaints
        (5000, 0, 3, True),  # 0.06 %
    ],
)
def test_the_domain_halts_itself_above_its_rates(
    sends: int, bounces: int, complaints: int, halts: bool
) -> None:
    assert (health_halt(sends, bounces, complaints, SETTINGS) is not None) is halts
