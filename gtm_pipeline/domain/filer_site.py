"""Which web site a filing names as the filer's own, by matching its domains against the filer's name.

EDGAR says who filed (``Acme Health Inc``) but never the filer's web site, and a filing's page is on
``sec.gov``; so a filing hit has no company site unless the filing itself names one. Press releases
filed as 8-K exhibits usually do ("About Acme Health … www.acmehealth.com", an investor-relations
address such as ``investors.acmehealth.com``). A domain counts only when one of its labels (any but
the top-level one), letters and digits only, spells the filer's whole name without the corporate
suffixes: ``acmehealth.com`` and ``investors.acme-health.com`` match ``Acme Health Inc`` (the site
is then the domain from that label on); ``acme.com`` does not (a first word alone would give
``united.com`` to United Health Group), nor ``sec.gov``, a law firm's or an auditor's site.
Deterministic: the first match named in the text wins.
"""

from __future__ import annotations

import re

from gtm_pipeline.domain.ids import normalize_domain

# Words a company's legal name carries that its domain usually does not.
CORPORATE_WORDS = frozenset(
    {
        "the", "inc", "incorporated", "corp", "corporation", "co", "company", "ltd", "limited",
        "llc", "lp", "llp", "plc", "holdings", "holding", "group", "sa", "ag", "nv", "gmbh", "de",
    }
)  # fmt: skip
MIN_LABEL = 4  # "ab.com" is nobody's proof of anything
_DOMAIN = re.compile(
    r"(?<![\w.-])(?:https?://)?(?:www\.)?((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24})\b",
    re.IGNORECASE,
)
_EMAIL_DOMAIN = re.compile(r"@((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24})\b", re.IGNORECASE)


def name_words(company_name: str) -> list[str]:
    """``Acme Health, Inc.`` -> ``["acme", "health"]``."""
    words = re.findall(r"[a-z0-9]+", company_name.lower())
    return [w for w in words if w not in CORPORATE_WORDS]


def spelling(company_name: str) -> str | None:
    """The name's words run together (``acmehealth``), or None when too short to prove anything."""
    joined = "".join(name_words(company_name))
    return joined if len(joined) >= MIN_LABEL else None


def domains_in(text: str) -> list[str]:
    """Every domain the text names (bare, in a URL or after an ``@``), in order, once each."""
    found: list[str] = []
    for match in [*_DOMAIN.finditer(text), *_EMAIL_DOMAIN.finditer(text)]:
        try:
            domain = normalize_domain(match.group(1))
        except ValueError:
            continue
        if domain not in found:
            found.append(domain)
    return found


def site_named_in(text: str, company_name: str) -> str | None:
    """The filer's own domain as the filing names it, or None when no domain spells the name."""
    wanted = spelling(company_name)
    if wanted is None:
        return None
    for domain in domains_in(text):
        labels = domain.split(".")
        for index, label in enumerate(labels[:-1]):
            if re.sub(r"[^a-z0-9]", "", label) == wanted:
                return ".".join(labels[index:])
    return None
