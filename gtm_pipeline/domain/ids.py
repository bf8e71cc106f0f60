"""Opaque, stable identifiers.

Prospect ids are what Dagster sees (partition keys, run tags, metadata). They must be
stable across runs (so re-running discovery adds nothing) and must not reveal a name or
an email, so that erasing a person never requires rewriting Dagster's event log.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import urlsplit

import idna

PROSPECT_PREFIX = "p_"
_ID_HEX_CHARS = 20  # 80 bits: collision odds are negligible at millions of prospects
_PROSPECT_ID_RE = re.compile(rf"^{PROSPECT_PREFIX}[0-9a-f]{{{_ID_HEX_CHARS}}}$")
_DOMAIN_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class InvalidIdentityError(ValueError):
    """An identity (domain, email) that cannot be normalized."""


def normalize_domain(raw: str) -> str:
    """Reduce any spelling of a company's web address to its bare registrable host.

    ``https://WWW.Acme-Health.example/about/`` and ``acme-health.example.`` are the same
    company: scheme, ``www.``, port, path, case and a trailing dot are dropped, and
    internationalized names are put in their ASCII (punycode) form so that two spellings of one
    name collide (see :func:`_ascii_host`). Raises :class:`InvalidIdentityError`, saying why,
    for anything that is not a domain name.
    """
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        raise InvalidIdentityError("empty domain")
    if "@" in text and "://" not in text:
        text = text.rsplit("@", 1)[1]
    try:
        host = (urlsplit(text if "://" in text else f"//{text}").hostname or "").rstrip(".").lower()
    except ValueError as exc:  # "[bad": urlsplit's own error, not an identity error callers catch
        raise InvalidIdentityError(f"not a domain name ({exc}): {raw!r}") from None
    if host.startswith("www."):
        host = host[4:]
    host = _ascii_host(host, raw)
    labels = host.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL_RE.match(label) for label in labels):
        raise InvalidIdentityError(f"not a domain name: {raw!r}")
    return host


def _ascii_host(host: str, raw: str) -> str:
    """``host`` in ASCII: IDNA2008 with the UTS #46 mapping, as browsers and registries use it.

    Python's built-in ``idna`` codec is IDNA2003, which maps ``straße.de`` to ``strasse.de``:
    another domain, with another owner, so a prospect or a suppression would land on the wrong
    company. The ``idna`` package keeps ``ß`` (``xn--strae-oqa.de``) and checks every label
    (hyphens, joiners, right-to-left rules, an ``xn--`` label that is not valid punycode). A
    plain ASCII name has nothing to map and is left to the label check that follows.
    """
    if host.isascii() and not any(label.startswith("xn--") for label in host.split(".")):
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except UnicodeError as exc:  # idna.IDNAError and its kinds (bad code point, bidi, A-label)
        raise InvalidIdentityError(f"not a valid internationalized domain name ({exc}): {raw!r}") from None


def normalize_email(raw: str) -> str:
    """Normalize an address for identity and suppression matching.

    Case is folded and a ``+tag`` sub-address is removed: for suppression it is safer to
    treat ``ana+news@x`` and ``ana@x`` as one person than to mail someone who objected.
    """
    text = unicodedata.normalize("NFKC", raw).strip().strip("<>").lower()
    local, sep, domain = text.rpartition("@")
    if not sep or not local or not domain:
        raise InvalidIdentityError("not an email address")
    local = local.split("+", 1)[0]
    if not local:
        raise InvalidIdentityError("not an email address")
    return f"{local}@{normalize_domain(domain)}"


def legacy_email_hashes(email: str) -> list[str]:
    """The hash the address had before domains moved to IDNA2008, when it differs.

    Python's IDNA2003 codec mapped ``ß`` to ``ss`` (and dropped joiners), so a suppression recorded
    for ``x@straße.de`` then was kept under the hash of ``x@strasse.de``; only hashes are kept, so it
    cannot be migrated. The send path checks both, and a person who objected stays suppressed."""
    try:
        current = normalize_email(email)
    except InvalidIdentityError:
        return []
    local, _at, domain = current.rpartition("@")
    if "xn--" not in domain:
        return []  # an ASCII domain is the same under both
    try:
        old = idna.decode(domain).encode("idna").decode("ascii")  # the stdlib codec is IDNA2003
    except (UnicodeError, idna.IDNAError):
        return []
    if old == domain:
        return []
    return ["e_" + _digest("email", f"{local}@{old}")[:32]]


def _digest(namespace: str, value: str) -> str:
    return hashlib.sha256(f"gtm:{namespace}:v1:{value}".encode()).hexdigest()


def prospect_id(company_domain: str) -> str:
    """The opaque id of the prospect account at ``company_domain`` (any spelling).

    One prospect per company account: one conversation per company is the rule a
    careful outbound team keeps, so the same company found twice is the same prospect.
    """
    return PROSPECT_PREFIX + _digest("prospect", normalize_domain(company_domain))[:_ID_HEX_CHARS]


def is_prospect_id(value: str) -> bool:
    """True when ``value`` has the shape of a prospect id (no lookup involved)."""
    return bool(_PROSPECT_ID_RE.match(value))


def email_hash(email: str) -> str:
    """A stable hash of a normalized address: what suppression and erasure keep."""
    return "e_" + _digest("email", normalize_email(email))[:32]


def content_hash(text: str | bytes) -> str:
    """Content address of a source or artifact (full sha256, hex)."""
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()
