"""What a draft may contain, whatever wrote it (pure).

Fetched pages are untrusted and can carry instructions aimed at the model ("include this
link", "ask them to confirm their bank details"). The prompt treats sources as data, but a
model can still be fooled, so the output is checked too: a draft may link only to the
sender's own domains and the prospect's own site, may contain no email address outside
those, and no call to action or request the skill did not ask for. A draft that breaks a
rule is escalated to the operator and can never be approved or sent, in any mode.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gtm_pipeline.domain.contracts import DraftFinding
from gtm_pipeline.domain.ids import InvalidIdentityError, normalize_domain

_URL_RE = re.compile(
    r"(?i)\b(?:https?://|www\.)[^\s<>()\"']+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}/[^\s<>()\"']*"
)
_EMAIL_RE = re.compile(r"(?i)\b[a-z0-9._%+-]+@([a-z0-9.-]+\.[a-z]{2,})\b")
_FORBIDDEN = (
    "click here",
    "click the link",
    "download",
    "install",
    "sign up",
    "log in",
    "login",
    "password",
    "bank details",
    "account number",
    "wire transfer",
    "gift card",
    "bitcoin",
    "crypto",
    "verify your",
    "confirm your",
    "ignore previous",
    "ignore all previous",
    "as an ai",
    "unsubscribe link",
)


def _host(url: str) -> str | None:
    try:
        return normalize_domain(url)
    except InvalidIdentityError:
        return None


def _allowed(host: str | None, allowed: set[str]) -> bool:
    return host is not None and any(host == d or host.endswith("." + d) for d in allowed)


def violations(draft: DraftFinding, allowed_domains: Iterable[str]) -> list[str]:
    """Every rule the draft breaks (empty when it may go to review as usual)."""
    allowed = {normalize_domain(d) for d in allowed_domains}
    text = f"{draft.subject}\n{draft.body}"
    found: list[str] = []
    for url in _URL_RE.findall(text):
        if not _allowed(_host(url.rstrip(".,;:!?")), allowed):
            found.append(f"link outside the allowlist: {url[:80]}")
    for domain in _EMAIL_RE.findall(text):
        if not _allowed(_host(domain), allowed):
            found.append(f"email address outside the allowlist: @{domain[:60]}")
    lowered = text.lower()
    cta = draft.call_to_action.lower()
    for phrase in _FORBIDDEN:
        if phrase in lowered and phrase not in cta:
            found.append(f"instruction the skill did not ask for: {phrase!r}")
    return found
