"""Sending settings: who sends, where replies go, the notice, caps, windows and thresholds.

Everything comes from the environment (documented in the README) with defaults that are
safe for a new domain: small caps with a warm-up ramp, weekday business hours in the
recipient's timezone, halts well below Resend's acceptable-use limits (bounces < 4 %,
complaints < 0.08 %), no open tracking.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path

from gtm_pipeline.config import local_secret

DEFAULT_FROM = "Alex Morgan <alex@mail.northwind-advisory.example>"
DEFAULT_REPLY_TO = "replies@inbound.northwind-advisory.example"
DEFAULT_NOTICE = (
    "Why you are getting this: we found your work email on {source} while researching {company}, "
    "and we write to you only about this business topic. {sender_company} processes your work contact "
    "details for B2B outreach (legitimate interest). To object or to have your data erased, reply "
    '"remove me" or use {unsubscribe_url} - it takes effect at once. Grievances: {privacy_contact}.'
)


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, str(default)))


@dataclass(frozen=True)
class SendingSettings:
    """How and when mail may go out."""

    from_address: str = DEFAULT_FROM
    reply_to: str = DEFAULT_REPLY_TO
    public_url: str = "http://127.0.0.1:8025"
    unsubscribe_mailto: str = "unsubscribe@inbound.northwind-advisory.example"
    sender_company: str = "Northwind Advisory"
    privacy_contact: str = "privacy@northwind-advisory.example"
    notice_template: str = DEFAULT_NOTICE
    mailbox_daily_cap: int = 30
    domain_daily_cap: int = 90
    warmup_start: int = 5
    warmup_step: int = 3
    window_start_hour: int = 9
    window_end_hour: int = 17
    weekdays_only: bool = True
    default_timezone: str = "UTC"
    min_spacing_hours: int = 72
    bounce_halt_rate: float = 0.02
    complaint_halt_rate: float = 0.0005
    health_window: int = 200
    health_min_sends: int = 20
    max_send_attempts: int = 5
    ledger_trust_hours: int = 23
    unsubscribe_secret: bytes = b""

    @property
    def mailbox(self) -> str:
        return parseaddr(self.from_address)[1].lower()

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


def _secret(home: Path) -> bytes:
    """The unsubscribe-link key: ``GTM_UNSUBSCRIBE_SECRET`` or one generated once under GTM_HOME."""
    return local_secret(home, "GTM_UNSUBSCRIBE_SECRET", "unsubscribe.key")


def sending_settings(home: Path) -> SendingSettings:
    """Settings from the environment (see the README's configuration table)."""
    base = SendingSettings()
    return SendingSettings(
        from_address=os.environ.get("GTM_FROM", base.from_address),
        reply_to=os.environ.get("GTM_REPLY_TO", base.reply_to),
        public_url=os.environ.get("GTM_PUBLIC_URL", base.public_url).rstrip("/"),
        unsubscribe_mailto=os.environ.get("GTM_UNSUBSCRIBE_MAILTO", base.unsubscribe_mailto),
        sender_company=os.environ.get("GTM_SENDER_COMPANY", base.sender_company),
        privacy_contact=os.environ.get("GTM_PRIVACY_CONTACT", base.privacy_contact),
        notice_template=os.environ.get("GTM_NOTICE_TEXT", base.notice_template),
        mailbox_daily_cap=_env_int("GTM_MAILBOX_DAILY_CAP", base.mailbox_daily_cap),
        domain_daily_cap=_env_int("GTM_DOMAIN_DAILY_CAP", base.domain_daily_cap),
        warmup_start=_env_int("GTM_WARMUP_START", base.warmup_start),
        warmup_step=_env_int("GTM_WARMUP_STEP", base.warmup_step),
        window_start_hour=_env_int("GTM_SEND_WINDOW_START", base.window_start_hour),
        window_end_hour=_env_int("GTM_SEND_WINDOW_END", base.window_end_hour),
        weekdays_only=os.environ.get("GTM_SEND_WEEKDAYS_ONLY", "1") != "0",
        default_timezone=os.environ.get("GTM_DEFAULT_TIMEZONE", base.default_timezone),
        min_spacing_hours=_env_int("GTM_MIN_SPACING_HOURS", base.min_spacing_hours),
        bounce_halt_rate=_env_float("GTM_BOUNCE_HALT_RATE", base.bounce_halt_rate),
        complaint_halt_rate=_env_float("GTM_COMPLAINT_HALT_RATE", base.complaint_halt_rate),
        health_window=_env_int("GTM_HEALTH_WINDOW", base.health_window),
        health_min_sends=_env_int("GTM_HEALTH_MIN_SENDS", base.health_min_sends),
        unsubscribe_secret=_secret(home),
    )
