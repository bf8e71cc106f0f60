"""What an address says about who reads it (pure): a free-mail provider, a role mailbox.

A free-mail address names a person, not a company, so it never gives a prospect its domain, and
writing to a private mailbox about business is what B2B legitimate interest does not cover. A
role address (``info@``, ``sales@``) is read by whoever is on duty: it is kept and flagged, never
the automatic addressee of a first touch.
"""

from __future__ import annotations

FREE_MAIL = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.in", "yahoo.co.uk", "yahoo.fr", "yahoo.de",
        "ymail.com", "rocketmail.com", "outlook.com", "outlook.in", "hotmail.com", "hotmail.co.uk",
        "hotmail.fr", "hotmail.de", "live.com", "live.in", "msn.com", "icloud.com", "me.com", "mac.com",
        "aol.com", "proton.me", "protonmail.com", "pm.me", "gmx.com", "gmx.de", "gmx.net", "web.de",
        "yandex.com", "yandex.ru", "mail.ru", "rediffmail.com", "zohomail.com", "zohomail.in",
        "qq.com", "163.com", "126.com", "fastmail.com", "hey.com", "tutanota.com", "tuta.io",
        "mail.com", "inbox.com", "libero.it", "orange.fr", "free.fr", "t-online.de", "btinternet.com",
        "comcast.net", "verizon.net", "att.net", "sbcglobal.net", "naver.com", "daum.net",
    }
)  # fmt: skip

ROLE_LOCAL_PARTS = frozenset(
    {
        "info", "sales", "contact", "contactus", "hello", "hi", "support", "help", "admin", "office",
        "press", "media", "pr", "marketing", "team", "hr", "jobs", "careers", "recruiting", "billing",
        "accounts", "finance", "noreply", "no-reply", "donotreply", "webmaster", "postmaster", "abuse",
        "privacy", "legal", "compliance", "security", "enquiries", "inquiries", "enquiry", "service",
        "customerservice", "partners", "investors", "ir", "general", "mail", "newsletter",
    }
)  # fmt: skip


def domain_of(email: str) -> str:
    return email.rsplit("@", 1)[-1].strip().lower()


def is_free_mail(email_or_domain: str) -> bool:
    return domain_of(email_or_domain) in FREE_MAIL


def is_role_address(email: str) -> bool:
    local = email.rsplit("@", 1)[0].strip().lower().split("+", 1)[0]
    return local in ROLE_LOCAL_PARTS


def mailbox_flags(email: str) -> list[str]:
    """``free_mail`` and/or ``role`` for ``email`` (empty for a person's work address)."""
    flags = []
    if is_free_mail(email):
        flags.append("free_mail")
    if is_role_address(email):
        flags.append("role")
    return flags
