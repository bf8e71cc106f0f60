"""Turning an approved draft into the exact Resend request of one touch (pure).

Plain text first (the part people read and filters trust) and a minimal HTML part built
from the same words with every value escaped: no tracking pixel, no remote images, no
link shortener. Every touch carries RFC 8058 one-click unsubscribe headers, its own
``Message-ID`` (so replies thread to it) and tags with opaque ids only, for webhook
correlation. A first touch carries the data-source notice (DPDP; GDPR Art. 14 and 21).
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from typing import Any

from gtm_pipeline.outreach.settings import SendingSettings

NOTICE_SEPARATOR = "\n\n--\n"


@dataclass(frozen=True)
class TouchPlan:
    """Everything that identifies one touch."""

    prospect_id: str
    touch_number: int
    artifact_id: str
    to_email: str
    subject: str
    body: str
    company_name: str
    source_url: str | None
    previous_message_ids: tuple[str, ...] = ()

    @property
    def touch_id(self) -> str:
        digest = hashlib.sha256(f"{self.prospect_id}:{self.touch_number}".encode()).hexdigest()[:24]
        return f"t_{digest}"

    @property
    def idempotency_key(self) -> str:
        # Prospect + touch: a retry of this touch, from any process, any day, is the same request.
        return f"gtm-touch/{self.prospect_id}/{self.touch_number}"


def message_id(plan: TouchPlan, settings: SendingSettings) -> str:
    return f"<{plan.touch_id}@{settings.sending_domain}>"


def notice(plan: TouchPlan, settings: SendingSettings, unsubscribe_url: str) -> str:
    return settings.notice_template.format(
        source=plan.source_url or f"{plan.company_name}'s public website",
        company=plan.company_name,
        sender_company=settings.sender_company,
        unsubscribe_url=unsubscribe_url,
        privacy_contact=settings.privacy_contact,
    )


def _reply_to(plan: TouchPlan, settings: SendingSettings) -> str:
    local, _, domain = settings.reply_to.partition("@")
    return f"{local}+{plan.touch_id}@{domain}"


def build_request(plan: TouchPlan, settings: SendingSettings) -> dict[str, Any]:
    """The ``resend.Emails.send`` params for this touch."""
    token = settings.unsubscribe_token(plan.touch_id)
    unsubscribe_url = f"{settings.public_url}/unsubscribe/{token}"
    text = plan.body.strip()
    if plan.touch_number == 1:
        text = f"{text}{NOTICE_SEPARATOR}{notice(plan, settings, unsubscribe_url)}"
    else:
        text = f"{text}{NOTICE_SEPARATOR}Not relevant? {unsubscribe_url} stops all email from us at once."
    paragraphs = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in text.split("\n\n"))
    subject = plan.subject if plan.touch_number == 1 else f"Re: {plan.subject.removeprefix('Re: ')}"
    headers = {
        "Message-ID": message_id(plan, settings),
        "List-Unsubscribe": f"<{unsubscribe_url}>, <mailto:{settings.unsubscribe_mailto}?subject={token}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    if plan.previous_message_ids:
        headers["In-Reply-To"] = plan.previous_message_ids[-1]
        headers["References"] = " ".join(plan.previous_message_ids)
    return {
        "from": settings.from_address,
        "to": [plan.to_email],
        "reply_to": _reply_to(plan, settings),
        "subject": subject,
        "text": text,
        "html": f"<!doctype html><html><body>{paragraphs}</body></html>",
        "headers": headers,
        "tags": [
            {"name": "prospect_id", "value": plan.prospect_id},
            {"name": "touch_id", "value": plan.touch_id},
        ],
    }
