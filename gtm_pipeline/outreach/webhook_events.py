"""The Resend webhook events the receiver reads, as pydantic models.

A signed body is read into one of these models or refused with a 4xx before anything is stored:
a wrong type in a field the pipeline reads (``data.to`` a number, ``data.bounce`` a string, a tag
without a name) would otherwise surface later as a 500, and Resend retries a 5xx for hours. The
fields the pipeline reads (and the few every Resend email event carries: sender, subject,
timestamps) are typed; every other field is kept as it came (``extra="allow"``), because the payload
is stored as Resend sent it and a field Resend adds tomorrow must not turn a real event away.
Lengths follow the inbox columns they end up in, so no database refuses them.

The body's nesting is bounded before it is parsed at all (:func:`nesting_depth`): Python's
``json`` recurses per level, and a body of ``[[[[...`` well under the size cap raises
``RecursionError``, which is no ``ValueError`` and was a 500.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

MAX_DEPTH = 32  # Resend's events nest four levels; anything far deeper is not one of them
MAX_TYPE = 60  # inbox.event_type
MAX_EMAIL_ID = 80  # inbox.provider_email_id
MAX_RECIPIENTS = 50  # Resend's own limit on the recipients of one email
Address = Annotated[str, StringConstraints(max_length=320)]  # RFC 5321's longest path


def _null_is_empty(value: object) -> object:
    return [] if value is None else value


# ``"to": null`` is an event naming nobody, not a malformed one.
Addresses = Annotated[list[Address], BeforeValidator(_null_is_empty), Field(max_length=MAX_RECIPIENTS)]
_TOKEN = re.compile(r'\\.|["\[\]{}]', re.DOTALL)  # an escape pair, a quote, a bracket

OutboundType = Literal[
    "email.sent",
    "email.scheduled",
    "email.delivered",
    "email.delivery_delayed",
    "email.complained",
    "email.opened",
    "email.clicked",
    "email.failed",
    "email.suppressed",
]
OUTBOUND_TYPES: tuple[str, ...] = get_args(OutboundType)


def nesting_depth(text: str, limit: int | None = None) -> int:
    """How deeply arrays and objects nest in a JSON text, read without parsing it (strings skipped).

    One pass over the characters that matter, each token of fixed length: linear in the text, with
    no backtracking and no recursion, so it is safe on any body under the size cap (a regular
    expression for whole strings backtracks for minutes on ``"\\"\\"\\"...``). Up to the first
    character that is not JSON it agrees with the parser, so the parser never recurses deeper.
    With ``limit``, a text holding no more opening brackets than ``limit`` (every real event: it
    has a handful) cannot nest deeper than their count, and that count is the answer, without the
    scan: the result is then an upper bound, exact for whether the depth exceeds ``limit``."""
    if limit is not None and (brackets := text.count("[") + text.count("{")) <= limit:
        return brackets
    depth = deepest = 0
    in_string = False
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token == '"':
            in_string = not in_string
        elif in_string or token[0] == "\\":
            continue
        elif token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def plain_json_text(text: str, payload: object) -> bool:
    """:func:`plain_text` for a payload parsed from ``text``, read faster: strict JSON (what the
    parser reads) holds no raw control character, and UTF-8 no surrogate, so only an escape
    (``\\u``) can spell either; a text without one needs no walk through the payload."""
    if "\\u" not in text and "\x00" not in text:
        return True
    return plain_text(payload)


def plain_text(payload: object) -> bool:
    """Whether every string (and key) in a parsed JSON payload is text a database stores: no NUL, no
    unpaired surrogate. JSON escapes can spell both (``\\u0000``, ``\\ud800``); SQLite's driver cannot
    encode a lone surrogate and PostgreSQL refuses NUL in text, and either would fail the store - a
    5xx for what is the sender's mistake. Call it on a payload whose depth is bounded."""
    if isinstance(payload, str):
        try:
            payload.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return "\x00" not in payload
    if isinstance(payload, dict):
        return all(plain_text(k) and plain_text(v) for k, v in payload.items())
    if isinstance(payload, list):
        return all(plain_text(v) for v in payload)
    return True


class _Open(BaseModel):
    """Typed where the pipeline reads, open elsewhere: unknown fields are kept, never refused."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class Tag(_Open):
    """One tag in the list form (``[{"name": ..., "value": ...}]``) Resend has used."""

    name: str
    value: str


class Bounce(_Open):
    """``data.bounce`` of ``email.bounced``; only its type decides (a permanent bounce suppresses)."""

    type: str = ""
    sub_type: str | None = Field(default=None, alias="subType")
    message: str | None = None

    @property
    def permanent(self) -> bool:
        return self.type.lower() == "permanent"


class EmailData(_Open):
    """``data`` of an outbound email's event: which email, to whom, and our tags on it."""

    email_id: str | None = Field(default=None, max_length=MAX_EMAIL_ID)
    sender: str | None = Field(default=None, alias="from")
    to: Addresses = Field(default_factory=list)
    subject: str | None = None
    message_id: str | None = None
    tags: dict[str, str] | list[Tag] | None = None

    def tag(self, name: str) -> str | None:
        """A tag's value, in either of the forms Resend has sent tags in."""
        if isinstance(self.tags, dict):
            return self.tags.get(name)
        return next((t.value for t in self.tags or [] if t.name == name), None)


class BouncedData(EmailData):
    """``data`` of ``email.bounced``."""

    bounce: Bounce | None = None

    @property
    def permanent(self) -> bool:
        """A permanent bounce: the address does not exist (a transient one may heal)."""
        return self.bounce is not None and self.bounce.permanent


class ReceivedData(_Open):
    """``data`` of ``email.received``: the body is fetched through the receiving API by its id."""

    email_id: str | None = Field(default=None, max_length=MAX_EMAIL_ID)
    sender: str | None = Field(default=None, alias="from")
    to: Addresses = Field(default_factory=list)
    subject: str | None = None
    message_id: str | None = None


class _Event(_Open):
    created_at: str | None = None


class OutboundEvent(_Event):
    """An event about an email we sent (sent, delivered, complained, suppressed, ...)."""

    type: OutboundType
    data: EmailData


class BouncedEvent(_Event):
    type: Literal["email.bounced"]
    data: BouncedData


class ReceivedEvent(_Event):
    """A reply (or any mail) to our receiving address."""

    type: Literal["email.received"]
    data: ReceivedData


class OtherEvent(_Event):
    """Any other type (contacts, domains, ...): stored and recorded, never read further."""

    type: str = Field(min_length=1, max_length=MAX_TYPE)
    data: dict[str, Any]


WebhookEvent = OutboundEvent | BouncedEvent | ReceivedEvent | OtherEvent
_MODELS: dict[str, type[OutboundEvent | BouncedEvent | ReceivedEvent]] = {
    **dict.fromkeys(OUTBOUND_TYPES, OutboundEvent),
    "email.bounced": BouncedEvent,
    "email.received": ReceivedEvent,
}


def read_event(payload: object) -> WebhookEvent:
    """The typed event ``payload`` is, by its ``type``; raises ``pydantic.ValidationError`` otherwise."""
    kind = payload.get("type") if isinstance(payload, dict) else None
    model = _MODELS.get(kind, OtherEvent) if isinstance(kind, str) else OtherEvent
    return model.model_validate(payload)
