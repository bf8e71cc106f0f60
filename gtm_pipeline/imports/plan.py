"""From rows to an import plan (pure of any store): companies by domain, their contacts, and every
row that is not imported, with its line and the reason.

Nothing here guesses. A company's domain comes from its domain or website column, else from a
work email; a free-mail address never names a company. An address an export itself marks as
guessed or bounced is not kept (the contact is, for manual channels), and no address is ever made
up from a name. Rows for one company merge by domain; one person listed twice merges by email.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, ValidatedEmail, validate_email

from gtm_pipeline.domain.ids import InvalidIdentityError, normalize_domain
from gtm_pipeline.domain.mailboxes import domain_of, is_free_mail, mailbox_flags
from gtm_pipeline.imports.mapping import ColumnMapping
from gtm_pipeline.imports.table import TableShape

UNUSABLE_STATUSES = {
    "guessed": "guessed",
    "extrapolated": "guessed",
    "bounced": "bounced",
    "invalid": "invalid",
    "unavailable": "missing",
    "update required": "stale",
}
UNVERIFIED_STATUSES = ("unverified", "unknown", "catch-all", "catch all", "accept all", "risky")
OPT_OUT_WORDS = {"true", "yes", "y", "1", "x", "opted out", "unsubscribed"}


@dataclass(frozen=True)
class Note:
    """A row not imported (``skipped``) or imported with part of it left out (``warnings``)."""

    line: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason}


@dataclass
class PlannedContact:
    name: str | None
    title: str | None
    email: str | None  # normalised; None when absent or not kept
    flags: list[str]
    line: int
    row_hash: str
    timezone: str | None = None
    linkedin_url: str | None = None

    @property
    def reachable(self) -> bool:
        """A person's own work address: what a first touch may be sent to."""
        return self.email is not None and not self.flags

    def key(self) -> str:
        return self.email or f"name:{(self.name or '').casefold()}"


@dataclass
class PlannedCompany:
    domain: str
    name: str
    line: int
    row_hash: str
    lines: list[int] = field(default_factory=list)
    contacts: list[PlannedContact] = field(default_factory=list)


@dataclass
class ImportPlan:
    """What an import would do, before the store is asked."""

    file_name: str
    file_sha256: str
    shape: TableShape
    mapping: ColumnMapping
    rows: int = 0
    companies: dict[str, PlannedCompany] = field(default_factory=dict)
    skipped: list[Note] = field(default_factory=list)
    warnings: list[Note] = field(default_factory=list)
    merged_lines: list[int] = field(default_factory=list)
    opted_out: list[str] = field(default_factory=list)  # addresses the export marks opted out: suppressed


def row_hash(cells: list[str]) -> str:
    """The identity of a row's content (cells joined by the ASCII unit separator)."""
    return hashlib.sha256("\x1f".join(c.strip() for c in cells).encode()).hexdigest()[:32]


def build_plan(
    *,
    file_name: str,
    file_sha256: str,
    shape: TableShape,
    mapping: ColumnMapping,
    rows: Iterable[tuple[int, list[str]]],
) -> ImportPlan:
    plan = ImportPlan(file_name, file_sha256, shape, mapping)
    emails: dict[str, str] = {}  # email -> domain of the company it was first seen at
    for line, cells in rows:
        plan.rows += 1
        if not any(cell.strip() for cell in cells):
            plan.skipped.append(Note(line, "an empty row (every cell blank)"))
            continue
        values = {
            f: cells[i].strip() for i, f in mapping.columns.items() if i < len(cells) and cells[i].strip()
        }
        _plan_row(plan, emails, line, cells, values)
    return plan


def _opted_out(values: dict[str, str]) -> bool:
    return values.get("opted_out", "").strip().lower() in OPT_OUT_WORDS


# Hosts that are nobody's company site: a profile or page there names a company, it is not one.
SHARED_HOSTS = frozenset(
    {
        "linkedin.com", "facebook.com", "twitter.com", "x.com", "instagram.com", "youtube.com",
        "github.com", "crunchbase.com", "wellfound.com", "angel.co", "medium.com", "google.com",
        "sites.google.com", "notion.site", "wixsite.com", "linktr.ee",
    }
)  # fmt: skip


def not_a_company_site(domain: str) -> str | None:
    """Why ``domain`` cannot stand for one company (a free-mail provider, a shared platform, a bare IP
    address), or None: two companies' LinkedIn pages must never merge into one prospect."""
    if is_free_mail(domain):
        return f"{domain} is a free-mail provider, not a company's site"
    if domain in SHARED_HOSTS or any(domain.endswith("." + host) for host in SHARED_HOSTS):
        return f"{domain} is a shared platform, not a company's site"
    if domain.replace(".", "").isdigit() or ":" in domain:
        return f"{domain} is an IP address, not a company's site"
    return None


def _plan_row(
    plan: ImportPlan, emails: dict[str, str], line: int, cells: list[str], values: dict[str, str]
) -> None:
    email, email_note, email_flags = _email(values)
    if email_note:
        plan.warnings.append(Note(line, email_note))
    if email is not None and _opted_out(values):
        plan.opted_out.append(email)
        plan.warnings.append(Note(line, "the export marks this person opted out: suppressed, not imported"))
        values = {k: v for k, v in values.items() if k not in ("name", "first_name", "last_name", "title")}
        email = None
    domain = None
    if values.get("domain"):
        try:
            given = normalize_domain(values["domain"])
            why = not_a_company_site(given)
            if why is not None:
                raise InvalidIdentityError(why)
            domain = given
        except InvalidIdentityError as exc:
            if email is None or is_free_mail(email):
                plan.skipped.append(Note(line, f"invalid domain {values['domain']!r}: {exc}"))
                return
            plan.warnings.append(
                Note(line, f"invalid domain {values['domain']!r} ({exc}); took the email's domain")
            )
    if domain is None and email is not None:
        if is_free_mail(email):
            plan.skipped.append(
                Note(line, f"free-mail address ({domain_of(email)}) and no company domain or website")
            )
            return
        try:
            domain = normalize_domain(domain_of(email))
        except InvalidIdentityError as exc:  # the address passed, its domain cannot name a company
            plan.skipped.append(Note(line, f"the email's domain cannot name a company: {exc}"))
            return
    if domain is None:
        named = f"company {values['company']!r} has " if values.get("company") else ""
        plan.skipped.append(Note(line, f"{named}no domain, website or work email in this row"))
        return
    digest = row_hash(cells)
    company = plan.companies.get(domain)
    if company is None:
        company = PlannedCompany(domain, values.get("company") or domain, line, digest)
        plan.companies[domain] = company
    else:
        plan.merged_lines.append(line)
    company.lines.append(line)
    contact = _contact(values, email, line, digest, plan)
    if contact is not None and email_flags:
        contact.flags.extend(email_flags)
    if contact is None:
        return
    if contact.email is not None and contact.email in emails:
        if not plan.merged_lines or plan.merged_lines[-1] != line:
            plan.merged_lines.append(line)  # the same person again (by email)
        return
    if any(c.key() == contact.key() for c in company.contacts):
        return
    if contact.email is not None:
        emails[contact.email] = domain
    company.contacts.append(contact)


def _email(values: dict[str, str]) -> tuple[str | None, str | None, list[str]]:
    """The address to keep (or None), a note on why not, and flags (``unverified``: the export's
    own verdict was not "verified", so it is kept but never the automatic addressee)."""
    raw = values.get("email")
    if not raw:
        return None, None, []
    status = values.get("email_status", "").strip().lower()
    for word, label in UNUSABLE_STATUSES.items():
        if status.startswith(word):
            return (
                None,
                f"email marked {values['email_status']!r} by the export: a {label} address is not kept",
                [],
            )
    flags = ["unverified"] if status.startswith(UNVERIFIED_STATUSES) else []
    if plain_address(raw):
        return raw.lower(), None, flags
    try:
        checked = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        # The value itself is not repeated: this note is stored, and erasure could not reach it.
        return None, f"the email is not an address ({exc}); the contact is kept without it", []
    return _ascii_domain_address(checked), None, flags


def _ascii_domain_address(checked: ValidatedEmail) -> str:
    """The address with its domain in ASCII (punycode), lower-cased: the form mail is sent to and
    matched on, so ``ana@bücher.example`` and ``ana@xn--bcher-kva.example`` are one person.

    ``ascii_email`` is None when the local part itself is not ASCII (it then needs SMTPUTF8, and has
    no ASCII spelling); its domain still has one, so the address is built as the validator builds
    ``ascii_email``, from the (quoted where needed) local part and the ASCII domain."""
    return (checked.ascii_email or f"{checked.local_part}@{checked.ascii_domain}").lower()


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}$")


def plain_address(raw: str) -> bool:
    """A plain ASCII address every validator accepts as it is (dot-atom local part of at most 64
    characters, LDH labels, an alphabetic top-level domain): most rows of most exports. Anything
    else goes through ``email_validator``; ``tests/test_import.py`` checks the two agree. A punycode
    label (``xn--``) is not plain: only the validator can tell a real one from a broken one."""
    local, _, domain = raw.partition("@")
    return (
        len(raw) <= 254
        and len(local) <= 64
        and _PLAIN.match(raw) is not None
        and ".." not in domain
        and "xn--" not in domain.lower()
    )


def _contact(
    values: dict[str, str], email: str | None, line: int, digest: str, plan: ImportPlan
) -> PlannedContact | None:
    name = values.get("name") or " ".join(v for v in (values.get("first_name"), values.get("last_name")) if v)
    if not name and email is None:
        return None  # a company row
    timezone = values.get("timezone")
    if timezone:
        try:
            ZoneInfo(timezone)
        except (KeyError, ValueError):
            plan.warnings.append(Note(line, f"unknown timezone {timezone!r} ignored"))
            timezone = None
    return PlannedContact(
        name=name or None,
        title=values.get("title"),
        email=email,
        flags=mailbox_flags(email) if email else [],
        line=line,
        row_hash=digest,
        timezone=timezone,
        linkedin_url=values.get("linkedin_url"),
    )
