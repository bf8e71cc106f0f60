"""Which column is which: an alias table for the exports people actually have.

Apollo (People and Accounts), LinkedIn's ``Connections.csv``, HubSpot and Salesforce exports and
a plain ``domain,company,name,email,title`` file all name the same few things differently. Header
names are compared with case, spaces and punctuation removed. When two columns alias one field,
the earlier alias in the table wins (Apollo's "Company" over "Company Name for Emails") and the
other is shown as not used. ``--map 'Header=field'`` overrides any of it; ``Header=-`` ignores a
column. The mapping is shown before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FIELDS = (
    "domain",
    "company",
    "name",
    "first_name",
    "last_name",
    "email",
    "title",
    "email_status",
    "linkedin_url",
    "timezone",
    "opted_out",
)
ALIASES: dict[str, tuple[str, ...]] = {
    "domain": (
        "domain", "companydomain", "companydomainname", "website", "websiteurl", "companywebsite",
        "companyurl", "web", "site", "homepage", "accountwebsite",
    ),
    "company": (
        "company", "companyname", "accountname", "account", "organization", "organisation",
        "organizationname", "employer", "companynameforemails",
    ),
    "name": ("name", "fullname", "contactname", "contact", "person"),
    "first_name": ("firstname", "first", "givenname", "forename"),
    "last_name": ("lastname", "last", "surname", "familyname"),
    "email": (
        "email", "emailaddress", "workemail", "businessemail", "contactemail", "email1", "primaryemail",
    ),
    "title": ("title", "jobtitle", "position", "role", "designation"),
    "email_status": ("emailstatus", "emailverificationstatus"),
    "linkedin_url": ("personlinkedinurl", "linkedinurl", "linkedin", "linkedinprofile"),
    "timezone": ("timezone", "tz", "timezonename"),
    # CRM opt-outs (HubSpot "Unsubscribed from all email", Salesforce "Email Opt Out"): suppressed
    "opted_out": (
        "emailoptout", "hasoptedoutofemail", "unsubscribedfromallemail", "unsubscribed", "optedout",
        "optout", "donotemail", "donotcontact", "emailoptedout", "marketingemailoptout",
    ),
}  # fmt: skip
_KEY = re.compile(r"[^a-z0-9]+")


class MappingError(ValueError):
    """An override that names no column or no field."""


def header_key(header: str) -> str:
    return _KEY.sub("", header.lower())


_BY_KEY = {alias: (field, rank) for field, aliases in ALIASES.items() for rank, alias in enumerate(aliases)}


def known_columns(cells: list[str]) -> int:
    """How many distinct fields ``cells`` name: how header detection scores a row."""
    return len({_BY_KEY[header_key(c)][0] for c in cells if header_key(c) in _BY_KEY})


@dataclass(frozen=True)
class ColumnMapping:
    """Column index -> field, and what was decided about each header."""

    columns: dict[int, str]
    decisions: dict[str, str]  # header -> field, or "not used (…)"

    def fields(self) -> set[str]:
        return set(self.columns.values())


def resolve(headers: tuple[str, ...], overrides: list[str]) -> ColumnMapping:
    """The mapping for ``headers``: aliases, then ``Header=field`` overrides."""
    forced: dict[str, str] = {}
    for item in overrides:
        header, sep, field = item.partition("=")
        header, field = header.strip(), field.strip()
        if not sep or not header:
            raise MappingError(f"--map {item!r}: expected 'Header=field'")
        if field != "-" and field not in FIELDS:
            raise MappingError(f"--map {item!r}: unknown field {field!r} (one of {', '.join(FIELDS)}, or -)")
        matches = [h for h in headers if header_key(h) == header_key(header)]
        if not matches:
            raise MappingError(f"--map {item!r}: no column {header!r} in this file")
        forced[header_key(header)] = field
    columns: dict[int, str] = {}
    decisions: dict[str, str] = {}
    best: dict[str, tuple[int, int]] = {}  # field -> (rank, index)
    for index, header in enumerate(headers):
        key = header_key(header)
        if key in forced:
            field = forced[key]
            if field == "-":
                decisions[header] = "not used (--map)"
                continue
            rank = -1  # an override beats every alias
        elif key in _BY_KEY:
            field, rank = _BY_KEY[key]
        else:
            decisions[header] = "not used"
            continue
        holder = best.get(field)
        if holder is not None and holder[0] <= rank:
            decisions[header] = f"not used ({headers[holder[1]]!r} is {field})"
            continue
        if holder is not None:
            decisions[headers[holder[1]]] = f"not used ({header!r} is {field})"
            columns.pop(holder[1])
        best[field] = (rank, index)
        columns[index] = field
        decisions[header] = field
    return ColumnMapping(columns, decisions)
