"""People a company publishes on its own team and leadership pages: a name, a title, and an address
only where the page itself shows one (a ``mailto:`` in the person's own block).

Nothing is guessed: no address is made from a name and a pattern, and no mail server is asked
whether one exists. A published address is checked for syntax and flagged (``role``,
``free_mail``); a role address found on the page (``press@``) is kept as such.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import lxml.html
from email_validator import EmailNotValidError, validate_email

from gtm_pipeline.domain.mailboxes import mailbox_flags

ROLE_WORDS = re.compile(
    r"\b(chief|head|director|vp|vice president|president|founder|co-founder|officer|lead|manager|"
    r"partner|ceo|cto|cfo|coo|ciso|cio|cmo|principal|owner|leiter|leiterin|directeur|responsable)\b",
    re.I,
)
NAME = re.compile(r"^[A-ZÀ-Ý][\w'\u2019.-]+(?: [A-ZÀ-Ý][\w'\u2019.-]+){1,3}$")


@dataclass(frozen=True)
class PublishedPerson:
    name: str | None
    title: str | None
    email: str | None
    flags: list[str] = field(default_factory=list)


def published_people(html: str, domain: str) -> list[PublishedPerson]:
    """Named people with their titles, and any address published in their own block."""
    try:
        tree = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return []
    people: list[PublishedPerson] = []
    seen_emails: set[str] = set()
    headings = [h for h in tree.iter("h2", "h3", "h4", "strong") if _is_name(h)]
    owners: dict[str, int] = {}
    found: list[tuple[str, str, str | None]] = []
    for heading in headings:
        title = _title_after(heading)
        if title is None:
            continue
        email = _own_mailto(heading, domain)
        if email:
            owners[email] = owners.get(email, 0) + 1
        found.append((" ".join(heading.text_content().split()), title, email))
    for name, title, email in found:
        if email and owners[email] > 1:
            email = None  # one address under two names belongs to neither for certain
        if email:
            seen_emails.add(email)
        people.append(PublishedPerson(name, title, email, mailbox_flags(email) if email else []))
    for anchor in tree.iter("a"):
        email = (
            _address((anchor.get("href") or "")[7:])
            if (anchor.get("href") or "").startswith("mailto:")
            else None
        )
        if (
            email
            and email not in seen_emails
            and email.endswith("@" + domain)
            and "role" in mailbox_flags(email)
        ):
            seen_emails.add(email)
            people.append(PublishedPerson(None, None, email, mailbox_flags(email)))
    return people


def _is_name(element: lxml.html.HtmlElement) -> bool:
    name = " ".join(element.text_content().split())
    return bool(NAME.match(name)) and not ROLE_WORDS.search(name)


def _own_mailto(heading: lxml.html.HtmlElement, domain: str) -> str | None:
    """An address in the heading's own stretch of the page: from the heading to the next person's
    name, never past it (a shared block names several people), and on the company's domain."""
    sibling = heading.getnext()
    while sibling is not None:
        if sibling.tag in ("h2", "h3", "h4", "strong") and _is_name(sibling):
            return None
        if any(_is_name(inner) for inner in sibling.iter("h2", "h3", "h4", "strong")):
            return None
        email = _mailto(sibling)
        if email:
            return email if email.endswith("@" + domain) else None
        sibling = sibling.getnext()
    return None


def _title_after(heading: lxml.html.HtmlElement) -> str | None:
    sibling = heading.getnext()
    for _ in range(2):
        if sibling is None:
            return None
        text = " ".join(sibling.text_content().split())
        if text and ROLE_WORDS.search(text) and len(text) <= 120:
            return text
        sibling = sibling.getnext()
    return None


def _mailto(block: lxml.html.HtmlElement) -> str | None:
    anchors = [block] if block.tag == "a" else list(block.iter("a"))
    for anchor in anchors:
        href = anchor.get("href") or ""
        if href.lower().startswith("mailto:"):
            return _address(href[7:])
    return None


def _address(raw: str) -> str | None:
    candidate = raw.split("?")[0].strip()
    try:
        return validate_email(candidate, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None
