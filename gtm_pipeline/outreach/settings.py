"""Sending settings: who sends, where replies go, the notice, caps, windows and thresholds.

Built from the workspace settings (``[sender]``, ``[sending]``), with defaults that are safe
for a new domain: small caps with a warm-up ramp, weekday business hours in the
recipient's timezone, halts well below Resend's acceptable-use limits (bounces < 4 %,
complaints < 0.08 %), no open tracking.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from gtm_pipeline.config import Settings
from gtm_pipeline.config.model import SenderSettings, SendingLimits, mailbox_of

_SENDER, _LIMITS = SenderSettings(), SendingLimits()  # the defaults, from the one settings model


@dataclass(frozen=True)
class SendingSettings:
    """How and when mail may go out."""

    from_address: str = _SENDER.from_address
    reply_to: str = _SENDER.reply_to
    public_url: str = _SENDER.public_url
    unsubscribe_mailto: str = _SENDER.unsubscribe_mailto
    sender_company: str = _SENDER.company
    privacy_contact: str = _SENDER.privacy_contact
    notice_template: str = _SENDER.notice
    mailbox_daily_cap: int = _LIMITS.mailbox_daily_cap
    domain_daily_cap: int = _LIMITS.domain_daily_cap
    warmup_start: int = _LIMITS.warmup_start
    warmup_step: int = _LIMITS.warmup_step
    window_start_hour: int = _LIMITS.window_start_hour
    window_end_hour: int = _LIMITS.window_end_hour
    weekdays_only: bool = _LIMITS.weekdays_only
    default_timezone: str = _LIMITS.default_timezone
    min_spacing_hours: int = _LIMITS.min_spacing_hours
    bounce_halt_rate: float = _LIMITS.bounce_halt_rate
    complaint_halt_rate: float = _LIMITS.complaint_halt_rate
    health_window: int = _LIMITS.health_window
    health_min_sends: int = _LIMITS.health_min_sends
    max_send_attempts: int = 5
    ledger_trust_hours: int = 23
    unsubscribe_secret: bytes = b""

    @property
    def mailbox(self) -> str:
        return mailbox_of(self.from_address)

    @property
    def sending_domain(self) -> str:
        return self.mailbox.rsplit("@", 1)[1]

    def warmup_cap(self, first_send: dt.datetime | None, now: dt.datetime) -> int:
        """Today's per-mailbox cap on the warm-up ramp (start, +step per day, up to the cap)."""
        days = 0 if first_send is None else max(0, (now.date() - first_send.date()).days)
        return min(self.mailbox_daily_cap, self.warmup_start + self.warmup_step * days)

    def unsubscribe_token(self, touch_id: str) -> str:
        mac = hmac.new(self.unsubscribe_secret, touch_id.encode(), hashlib.sha256).hexdigest()[:24]
        return f"{touch_id}.{mac}"

    def touch_for_token(self, token: str) -> str | None:
        """The touch id a token names, or None when its signature is wrong."""
        touch_id, _, mac = token.partition(".")
        expected = hmac.new(self.unsubscribe_secret, touch_id.encode(), hashlib.sha256).hexdigest()[:24]
        return touch_id if mac and hmac.compare_digest(mac, expected) else None


def sending_settings(settings: Settings) -> SendingSettings:
    """The sending side of the settings (``[sender]`` and ``[sending]`` in gtm.toml)."""
    sender, limits = settings.sender, settings.sending
    return SendingSettings(
        from_address=sender.from_address,
        reply_to=sender.reply_to,
        public_url=sender.public_url,
        unsubscribe_mailto=sender.unsubscribe_mailto,
        sender_company=sender.company,
        privacy_contact=sender.privacy_contact,
        notice_template=sender.notice,
        mailbox_daily_cap=limits.mailbox_daily_cap,
        domain_daily_cap=limits.domain_daily_cap,
        warmup_start=limits.warmup_start,
        warmup_step=limits.warmup_step,
        window_start_hour=limits.window_start_hour,
        window_end_hour=limits.window_end_hour,
        weekdays_only=limits.weekdays_only,
        default_timezone=limits.default_timezone,
        min_spacing_hours=limits.min_spacing_hours,
        bounce_halt_rate=limits.bounce_halt_rate,
        complaint_halt_rate=limits.complaint_halt_rate,
        health_window=limits.health_window,
        health_min_sends=limits.health_min_sends,
        unsubscribe_secret=settings.signing_key("unsubscribe"),
    )
