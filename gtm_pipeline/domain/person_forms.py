"""Every form one person's address can take in stored text, found by its hash (pure).

An erasure or an access request names a person by an address, or (a request recorded earlier)
by its hash alone. The same person is stored in many spellings: another case, a ``+tag``, a
display-name form (``"Kim Lee" <kim@x>``), ``mailto:``, a Unicode domain or its punycode,
``%40`` in a URL, ``\\u0040`` or ``\\u00fc`` in JSON text. Rather than list spellings (and miss
one), every address-like token in a text is normalized exactly as the suppression list does and
compared by hash: whatever form it is in, it is the person if and only if it hashes to them.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parseaddr
from functools import lru_cache
from typing import Any

from gtm_pipeline.domain.ids import InvalidIdentityError, email_hash, normalize_email

ERASED = "[erased]"
ANOTHER_PERSON = "[another person]"

# "@" and the encodings of it that stored text holds: URLs, JSON and HTML escapes.
_AT = r"(?:@|%40|\\u0040|&\#0*64;|&\#x0*40;)"
_ESCAPED = r"\\u(?!0040)[0-9A-Fa-f]{4}"
_PERCENT = r"%(?!40)[0-9A-Fa-f]{2}"  # never an encoded "@": that is only ever the separator
# RFC 5322 atext (o'neil, kim&co, a+tag) but for "=", "?" and "/", which end a URL's query key
# (``?email=kim%40x``); a %XX (a +tag once urlencoded) or a JSON escape. The alternatives never
# overlap ("%" and "\" only start their escapes) and every run is bounded (a local part is at most
# 64 octets, an encoded one a few times that; a label at most 63), so a scan is linear in the text:
# an unbounded pattern took seconds on 20,000 characters without an "@".
_ATEXT = r"[\w!#$&'*+^`{|}~-]"
_LOCAL = rf"(?:{_PERCENT}|{_ATEXT}|{_ESCAPED})(?:{_PERCENT}|{_ATEXT}|\.|{_ESCAPED}){{0,255}}"
_DOMAIN_CHAR = rf"(?:[\w-]|{_PERCENT}|{_ESCAPED})"
_LABEL = rf"{_DOMAIN_CHAR}{{1,63}}"
_TOKEN = re.compile(rf"{_LOCAL}{_AT}{_LABEL}(?:\.{_LABEL}){{1,10}}", re.IGNORECASE)
_SPLITS = re.compile(r"[&'!#$*^`{|}~]")  # where a run of text before the address may end
_AT_FORMS = re.compile(_AT, re.IGNORECASE)
_JSON_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})")
_QUOTED_NAME = re.compile(r'"([^"\r\n]{1,100})"$')
_WORD = re.compile(r"[^\W\d_][\w'.-]*")
_NAME_REACH = 200
_NAME_RUN = re.compile(r"(?:[^\W\d_][\w'.-]*[ \t]+){0,3}[^\W\d_][\w'.-]*$")


@dataclass(frozen=True)
class Person:
    """Who a request names: the address as given (normalized) and the display name, if any."""

    address: str
    name: str | None = None

    @property
    def subject_hash(self) -> str:
        return email_hash(self.address)


def parse_person(text: str) -> Person:
    """The person an operator typed: ``kim@x``, ``KIM@X``, ``mailto:kim@x``, ``"Kim Lee" <kim@x>``.

    Raises ``ValueError`` (the console shows its message) when no address can be read."""
    name, address = parseaddr(re.sub(r"(?i)mailto:", "", text.strip()))
    address = urllib.parse.unquote(address.split("?", 1)[0]).strip()
    if "@" not in address or any(ch.isspace() for ch in address):
        raise ValueError("an email address is needed to find the person (only its hash is stored)")
    try:
        normalized = normalize_email(address)
    except InvalidIdentityError as exc:
        raise ValueError(f"an email address is needed to find the person: {exc}") from None
    return Person(normalized, name.strip() or None)


def _decoded(token: str) -> str:
    """A token as a plain address: ``@`` for its encodings, JSON escapes and ``%XX`` decoded."""
    local, _at, domain = _AT_FORMS.sub("@", token, count=1).rpartition("@")
    unescape = lambda text: _JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)  # noqa: E731
    return f"{unescape(urllib.parse.unquote(local))}@{unescape(urllib.parse.unquote(domain))}"


@lru_cache(maxsize=4096)
def token_hash(token: str) -> str | None:
    """The email hash of one address-like token in any of its stored forms (None: not an address)."""
    try:
        return email_hash(_decoded(token))
    except (InvalidIdentityError, UnicodeError):
        return None


def token_domain(token: str) -> str | None:
    """The normalized domain of an address-like token (an export keeps the sender's own mailboxes)."""
    try:
        return normalize_email(_decoded(token)).rpartition("@")[2]
    except (InvalidIdentityError, UnicodeError):
        return None


def _display_name_start(text: str, start: int, end: int) -> tuple[int, int, str | None]:
    """Widen a token written as ``Name <addr>`` to the whole form; returns (start, end, name).

    The name is the quoted string before ``<``, or the run of capitalized words before it (at
    most four: "talk to Kim Lee <kim@x>" names Kim Lee, not "talk to")."""
    opening = text.rfind("<", 0, start)
    after = text[end:].lstrip(" \t")
    if opening < 0 or text[opening + 1 : start].strip(" \t") or not after.startswith(">"):
        return start, end, None
    close = len(text) - len(after) + 1
    base = max(0, opening - _NAME_REACH)  # a name is short: never search the whole text before it
    head = text[base:opening].rstrip(" \t")
    quoted = _QUOTED_NAME.search(head)
    if quoted is not None:
        return base + quoted.start(), close, quoted.group(1).strip() or None
    run = _NAME_RUN.search(head)
    words = list(_WORD.finditer(run.group(0))) if run is not None else []
    kept: list[re.Match[str]] = []
    for word in reversed(words):
        if not word.group(0)[0].isupper():
            break
        kept.insert(0, word)
    if run is None or not kept:
        return opening, close, None
    return base + run.start() + kept[0].start(), close, " ".join(w.group(0) for w in kept)


@dataclass(frozen=True)
class Hit:
    """One place in a text that is the person: the span to redact, what it said, a display name."""

    start: int
    end: int
    form: str
    name: str | None


def addresses(text: str) -> Iterator[tuple[int, int, str]]:
    """Every address-like token in ``text``: (start, end, token)."""
    for match in _TOKEN.finditer(text):
        yield match.start(), match.end(), match.group(0)


class PersonMatcher:
    """Finds and redacts one person (by address hash) in text and in decoded JSON values."""

    def __init__(self, subject_hash: str, names: tuple[str, ...] = ()) -> None:
        self.subject_hash = subject_hash
        self.names = tuple(n for n in names if len(n.strip()) >= 2)

    def hits(self, text: str) -> list[Hit]:
        found = []
        for start, end, token in addresses(text):
            offset = self._match(token)
            if offset is not None:
                wide_start, wide_end, name = _display_name_start(text, start + offset, end)
                found.append(Hit(wide_start, wide_end, text[wide_start:wide_end], name))
        return found

    def _match(self, token: str) -> int | None:
        """Where in ``token`` the person's address starts (0: the whole token), or None. A token
        can carry text before the address that is legal in one ("x=1&kim@x", "it's kim@x"): the
        address may begin after any such separator."""
        if token_hash(token) == self.subject_hash:
            return 0
        at = _AT_FORMS.search(token)
        for split in _SPLITS.finditer(token, 0, at.start() if at else len(token)):
            if token_hash(token[split.end() :]) == self.subject_hash:
                return split.end()
        return None

    def is_person(self, text: str | None) -> bool:
        """True when ``text`` (a From header, a recipient field) names the person."""
        return bool(text) and bool(self.hits(str(text)))

    def found_in(self, value: Any) -> tuple[list[str], list[str]]:
        """(forms held, display names seen) anywhere in a text or decoded JSON value."""
        forms: list[str] = []
        names: list[str] = []
        for text in _strings(value):
            for hit in self.hits(text):
                forms.append(hit.form)
                if hit.name:
                    names.append(hit.name)
        return forms, names

    def redact(self, value: Any, names: tuple[str, ...] = ()) -> tuple[Any, int]:
        """``value`` with every form of the person (and their names, given or seen next to the
        address) replaced by :data:`ERASED`; returns (new value, replacements)."""
        wanted = tuple({*self.names, *names, *self.found_in(value)[1]})
        count = 0

        def text(s: str) -> str:
            nonlocal count
            pieces, last = [], 0
            for hit in self.hits(s):
                if hit.start < last:
                    continue
                pieces += [s[last : hit.start], ERASED]
                last = hit.end
                count += 1
            out = "".join(pieces) + s[last:]
            for name in wanted:
                out, n = _name_pattern(name).subn(ERASED, out)
                count += n
            return out

        return _map_strings(value, text), count


@lru_cache(maxsize=256)
def _name_pattern(name: str) -> re.Pattern[str]:
    """A display name as a whole word: never a piece of another word or of another address."""
    return re.compile(rf"(?<![\w.+@-]){re.escape(name.strip())}(?!\.?[\w@-])", re.IGNORECASE)


def mask_others(value: Any, keep: Callable[[str], bool]) -> Any:
    """``value`` with every address that ``keep`` refuses replaced by :data:`ANOTHER_PERSON`: an
    export holds its own person's data and the sender's mailboxes, no one else's address."""

    def text(s: str) -> str:
        pieces, last = [], 0
        for start, end, token in addresses(s):
            if not keep(token):
                pieces += [s[last:start], ANOTHER_PERSON]
                last = end
        return "".join(pieces) + s[last:]

    return _map_strings(value, text)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """``value`` with ``change`` applied to every string in it (keys too), structure kept."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {change(str(k)): _map_strings(v, change) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_map_strings(v, change) for v in value]
    return value
