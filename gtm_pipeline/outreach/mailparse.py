"""Reading one raw email (RFC 822 / MIME) into what the classifiers need.

Inbound mail is hostile input: any charset, broken MIME, missing headers. Parsing never
raises on content; what cannot be decoded is replaced, so a malformed message is still
classified (as machine mail or as a human reply) instead of being lost.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import format_datetime, getaddresses, parsedate_to_datetime

_MSGID_RE = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class ParsedMail:
    """The parts of a message that routing and classification read."""

    message: EmailMessage
    subject: str
    from_address: str
    from_display: str
    to: list[str]
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    date: dt.datetime | None
    text: str
    raw_text: str
    content_types: list[str] = field(default_factory=list)

    def header(self, name: str) -> str:
        return _header(self.message, name)

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this message answers, nearest first (In-Reply-To, then References newest first)."""
        seen: list[str] = []
        for value in [*self.in_reply_to, *reversed(self.references)]:
            if value not in seen:
                seen.append(value)
        return seen


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a header the policy cannot parse is still text
        raw = message.get_all(name, failobj=[])
        value = raw[0] if raw else None
    return str(value).strip() if value is not None else ""


def part_text(part: Message) -> str:
    try:
        if isinstance(part, EmailMessage):
            content = part.get_content()
            if isinstance(content, str):
                return content
    except Exception:
        pass
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        charset = part.get_content_charset() or "utf-8"
        try:
            return payload.decode(charset, errors="replace")
        except LookupError:
            return payload.decode("utf-8", errors="replace")
    raw = part.get_payload()
    return raw if isinstance(raw, str) else ""


_TAG_RE = re.compile(r"<[^>]+>")


def body_text(message: Message) -> str:
    """The readable text of a message: text/plain parts, else tag-stripped HTML, never attachments."""
    plain: list[str] = []
    html: list[str] = []
    for part in message.walk():
        ctype = part.get_content_type()
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        if ctype == "text/plain":
            plain.append(part_text(part))
        elif ctype == "text/html":
            html.append(_TAG_RE.sub(" ", part_text(part)))
        elif ctype.startswith("message/") and ctype not in ("message/rfc822",):
            plain.append(part_text(part))
    return "\n".join(plain) if plain else "\n".join(html)


def _raw_body(data: bytes) -> str:
    """The undecoded body, for messages whose MIME structure yields no readable part."""
    text = data.decode("utf-8", errors="replace")
    _head, sep, body = text.replace("\r\n", "\n").partition("\n\n")
    return body if sep else ""


def _ids(value: str) -> list[str]:
    return _MSGID_RE.findall(value)


def parse_mail(raw: bytes | str) -> ParsedMail:
    """Parse raw RFC 822 bytes; never raises on the content of the message."""
    data = raw.encode("utf-8", errors="replace") if isinstance(raw, str) else raw
    message = message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    senders = getaddresses([_header(message, "From")])
    display, address = senders[0] if senders else ("", "")
    date: dt.datetime | None
    try:
        date = parsedate_to_datetime(_header(message, "Date")) if _header(message, "Date") else None
        if date is not None and date.tzinfo is None:
            date = date.replace(tzinfo=dt.UTC)
    except (TypeError, ValueError, IndexError):
        date = None
    message_ids = _ids(_header(message, "Message-ID"))
    return ParsedMail(
        message=message,
        subject=_header(message, "Subject"),
        from_address=address.strip().lower(),
        from_display=display,
        to=[addr.lower() for _name, addr in getaddresses([_header(message, "To")]) if addr],
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=_ids(_header(message, "In-Reply-To")),
        references=_ids(_header(message, "References")),
        date=date,
        text=body_text(message) or _raw_body(data),
        raw_text=data.decode("utf-8", errors="replace"),
        content_types=[part.get_content_type() for part in message.walk()],
    )


def compose_raw(
    subject: str,
    body: str,
    received_at: dt.datetime,
    *,
    headers: dict[str, str] | None = None,
    from_addr: str = "prospect@example.com",
    to_addr: str = "sender@example.org",
) -> bytes:
    """An RFC 822 message built from the parts an eval case gives (its own headers win).

    Eval sets and benchmarks state a reply as subject, body and a few headers; building the raw
    message here, once, means every reader of such a set (``bench/reply_rules.py``, ``gtm eval``)
    classifies exactly the same bytes. A body that is itself MIME (a ``multipart/report`` bounce)
    comes with its own ``Content-Type`` header in ``headers``.
    """
    given = {name.lower(): (name, value) for name, value in (headers or {}).items()}
    base = {
        "from": ("From", from_addr),
        "to": ("To", to_addr),
        "subject": ("Subject", subject),
        "date": ("Date", format_datetime(received_at)),
        "message-id": (
            "Message-ID",
            f"<eval-{hashlib.sha256((subject + body).encode()).hexdigest()[:16]}@example.com>",
        ),
        "mime-version": ("MIME-Version", "1.0"),
        "content-type": ("Content-Type", "text/plain; charset=utf-8"),
        "content-transfer-encoding": ("Content-Transfer-Encoding", "8bit"),
    }
    if "content-type" in given:
        base.pop("content-transfer-encoding")
    merged = {**base, **given}
    head = "".join(f"{name}: {value}\r\n" for name, value in merged.values())
    return (head + "\r\n" + body.replace("\r\n", "\n").replace("\n", "\r\n")).encode("utf-8")
