"""The deliverability policy, checked at send time (pure).

Given what the store says (suppression, today's counts, the company's last touch, the
domain's health and halt, unprocessed inbound mail), :func:`check` says send, wait until a
time, or refuse - with the rule that decided. The suppression list is the *last* gate and
is checked again immediately before the provider call.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gtm_pipeline.outreach.settings import SendingSettings

Outcome = Literal["send", "defer", "refuse"]


@dataclass(frozen=True)
class SendContext:
    """What the policy needs to know about one pending touch."""

    now: dt.datetime
    recipient_timezone: str | None
    blocked_artifact: bool
    domain_halted: str | None
    pending_inbound: int
    last_touch_at: dt.datetime | None
    mailbox_sent_today: int
    domain_sent_today: int
    mailbox_cap_today: int
    suppressed: str | None


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    rule: str
    reason: str
    not_before: dt.datetime | None = None


def _zone(name: str | None, default: str) -> ZoneInfo:
    for candidate in (name, default, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def next_window(now: dt.datetime, zone: ZoneInfo, settings: SendingSettings) -> dt.datetime | None:
    """None when ``now`` is inside the recipient's send window, else when the next one opens (UTC)."""
    local = now.astimezone(zone)
    for offset in range(0, 8):
        day = (local + dt.timedelta(days=offset)).date()
        if settings.weekdays_only and day.weekday() >= 5:
            continue
        start = dt.datetime.combine(day, dt.time(settings.window_start_hour), tzinfo=zone)
        end = dt.datetime.combine(day, dt.time(settings.window_end_hour), tzinfo=zone)
        if offset == 0 and start <= local < end:
            return None
        if local < start:
            return start.astimezone(dt.UTC)
    return None


def _tomorrow(now: dt.datetime) -> dt.datetime:
    return dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def check(ctx: SendContext, settings: SendingSettings) -> Verdict:
    """Send, defer (with the time to try again) or refuse one touch."""
    if ctx.blocked_artifact:
        return Verdict("refuse", "policy:output-policy", "the draft breaks the output policy")
    if ctx.domain_halted:
        return Verdict("defer", "policy:domain-halt", f"sending domain halted: {ctx.domain_halted}")
    if ctx.pending_inbound:
        return Verdict(
            "defer", "policy:unprocessed-inbound", f"{ctx.pending_inbound} inbound event(s) not processed yet"
        )
    if ctx.last_touch_at is not None:
        ready = ctx.last_touch_at + dt.timedelta(hours=settings.min_spacing_hours)
        if ctx.now < ready:
            return Verdict(
                "defer", "policy:spacing", f"last touch to this company at {ctx.last_touch_at}", ready
            )
    if ctx.mailbox_sent_today >= ctx.mailbox_cap_today:
        return Verdict(
            "defer",
            "policy:mailbox-cap",
            f"mailbox sent {ctx.mailbox_sent_today} of {ctx.mailbox_cap_today} today (warm-up ramp)",
            _tomorrow(ctx.now),
        )
    if ctx.domain_sent_today >= settings.domain_daily_cap:
        return Verdict(
            "defer",
            "policy:domain-cap",
            f"domain sent {ctx.domain_sent_today} of {settings.domain_daily_cap} today",
            _tomorrow(ctx.now),
        )
    opens = next_window(ctx.now, _zone(ctx.recipient_timezone, settings.default_timezone), settings)
    if opens is not None:
        return Verdict("defer", "policy:send-window", "outside the recipient's send window", opens)
    if ctx.suppressed:
        return Verdict("refuse", "policy:suppression", f"address suppressed: {ctx.suppressed}")
    return Verdict("send", "policy:ok", "all deliverability checks passed")


def health_halt(sends: int, bounces: int, complaints: int, settings: SendingSettings) -> str | None:
    """Why the domain must stop sending, from its recent bounce and complaint rates (or None)."""
    if sends < settings.health_min_sends and not complaints:
        return None
    denominator = max(sends, settings.health_min_sends)
    if bounces / denominator > settings.bounce_halt_rate:
        return f"bounce rate {bounces}/{sends} above {settings.bounce_halt_rate:.2%}"
    if complaints / denominator > settings.complaint_halt_rate:
        return f"complaint rate {complaints}/{sends} above {settings.complaint_halt_rate:.3%}"
    return None
