"""Machine mail first: bounces, complaints and automatic replies, decided by rules.

A bounce or an auto-reply read as a prospect's reply is the classic self-inflicted
failure of outbound agents (answering a mailer daemon, counting an out-of-office as
interest). So machine mail is recognised here, deterministically, before any model sees
an inbound message, in this order:

1. an abuse feedback report (RFC 5965, ``message/feedback-report``): a complaint;
2. a delivery status notification (RFC 3464, ``message/delivery-status``): a bounce, hard
   when a recipient's status is 5.x.x or its action ``failed``, soft for 4.x.x / ``delayed``;
3. a non-standard bounce: sent by a mailer daemon or postmaster (or with an empty
   return path) *and* carrying an SMTP reply code, an enhanced status code or a
   well-known failure subject; hard or soft from the codes, then from the wording;
4. an automatic reply (RFC 3834 ``Auto-Submitted``, ``X-Autoreply`` and the like, or a
   well-known auto-reply subject): unreachable when it says the address is no longer read
   or the person has left ("this mailbox is no longer monitored"), out of office when it says
   so (with the return date when it gives one), otherwise a plain auto-reply. None of them is
   ever a human reply.

A mailer notice without any status code or failure wording is *not* counted as a bounce
(it cannot say hard or soft); it is machine mail, never answered, never a reply. Bounces
of our own sends also arrive as Resend ``email.bounced`` events, so nothing relies on
this layer alone.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from email.message import Message
from typing import Literal

from gtm_pipeline.outreach.dates import absence_return
from gtm_pipeline.outreach.mailparse import ParsedMail, part_text
from gtm_pipeline.outreach.reply_rules import gone_verdict

MachineKind = Literal["complaint", "bounce", "out_of_office", "auto_reply", "unreachable"]

_ENHANCED_RE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_SMTP_RE = re.compile(r"(?<![\d.\-])([45][0-5]\d)(?:[ -](?=\S)|\s)(?!\d)")
_DAEMON_RE = re.compile(
    r"^(mailer[-_.]?daemon|postmaster|post_master|poostmaster|mail\.delivery\.system|"
    r"mail[-_.]?delivery[-_.]?(subsystem|system)?|bounces?|mdaemon|sysadmin|no-?reply)@|"
    r"^[^@]*-(admin|owner|request)@|^owner-[^@]*@|"
    r"^mailer-daemon$",
    re.IGNORECASE,
)
_BOUNCE_SUBJECTS = re.compile(
    r"undeliver|undelivered|delivery status notification|failure notice|returned mail|"
    r"mail delivery failed|delivery failure|could not be delivered|delivery has failed|"
    r"mail system error|delivery report|error sending your mail|delivery notification|"
    r"message delivery has failed|email delivery failure|mail delivery failure|"
    r"nondeliverable|non-delivery|delivery status|postmaster notify|not member|"
    r"blocked by our bulk email filter|loop alert|mail could not be delivered|user unknown|"
    r"メールエラー|未達|недоставлен|не доставлено|ваше сообщение не доставлено|"
    r"unzustellbar|non remis|no entregado",
    re.IGNORECASE,
)
_SOFT_WORDS = re.compile(
    r"mailbox (is )?full|over ?quota|quota exceeded|exceeded (the )?(storage|quota)|insufficient storage|"
    r"temporar(y|ily)|try again later|will (be )?retr(y|ied)|delayed|deferred|still trying|"
    r"could not be delivered for \d+ (hours|days)|cannot send message for \d+ days|too many",
    re.IGNORECASE,
)
_AUTO_SUBJECTS = re.compile(
    r"^(auto(matic)?[ -]?(reply|response|antwort|respons\w*)|autoreply|auto:|"
    r"out of (the )?office|ooo\b|abwesenheit|absence|absent|réponse automatique|"
    r"respuesta automática|risposta automatica|resposta automática|automatisch antwoord|"
    r"away from|on vacation|on leave|away until)",
    re.IGNORECASE,
)
_JMRP_SUBJECT = re.compile(r"^\s*complaint about message from|^\s*abuse report|^\s*spam report", re.I)
_BODY_BOUNCE = re.compile(
    r"could not be delivered|undeliverable|delivery (has )?failed|returned to sender|user unknown|"
    r"no such user|message not delivered|unable to deliver|not a member of this mailing list|"
    r"duplicated message-id|permanent(ly)? (error|failure)|delivery to the following recipients? failed",
    re.I,
)
_OOO_WORDS = re.compile(
    r"out of (the )?office|\bO\.?O\.?O\b|on (annual |parental |maternity |paternity )?leave|vacation|holiday|"
    r"\baway\b|travel(l)?ing|returning|return(ing)? to the office|back (in the office )?on|"
    r"limited access to (e-?mail|my email)|abwesend|nicht im büro|urlaub|absent|en congé|"
    r"fuera de la oficina|de vacaciones|fuori ufficio|ausente|afwezig",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class MachineVerdict:
    """What a rule decided about machine mail, and which rule decided it."""

    kind: MachineKind
    rule: str
    hard: bool | None = None
    status: str | None = None
    recipient: str | None = None
    resume_on: dt.date | None = None


def _part_source(part: Message) -> str:
    """The full text of a part, headers of its sub-blocks included (DSN fields live there)."""
    try:
        return part.as_string()
    except Exception:
        return part_text(part)


def _fields(text: str) -> dict[str, str]:
    """``Name: value`` fields of a report block (first occurrence wins; folded lines joined)."""
    fields: dict[str, str] = {}
    for line in re.split(r"\r?\n(?![ \t])", text):
        name, sep, value = line.partition(":")
        key = name.strip().lower()
        if sep and key and " " not in key and key not in fields:
            fields[key] = " ".join(value.split())
    return fields


def _severity(status: str | None, text: str) -> bool:
    """True for a hard (permanent) failure: from the status code; without one, hard unless the
    wording says the failure is temporary (a full mailbox, a deferral) and names no unknown user."""
    if status:
        if status.startswith("5"):
            return True
        if status.startswith("4"):
            return False
    soft = _SOFT_WORDS.search(text) and not re.search(r"user unknown|does not exist|no such", text, re.I)
    return not soft


def _address(value: str) -> str | None:
    match = re.search(r"([^\s;<>\"']+@[^\s;<>\"']+)", value)
    return match.group(1).strip(".").lower() if match else None


def _from_dsn(mail: ParsedMail) -> MachineVerdict | None:
    for part in mail.message.walk():
        if part.get_content_type() not in ("message/delivery-status", "message/global-delivery-status"):
            continue
        fields = _fields(_part_source(part))
        action = fields.get("action", "").lower()
        status_match = _ENHANCED_RE.search(fields.get("status", ""))
        status = ".".join(status_match.groups()) if status_match else None
        diagnostic = fields.get("diagnostic-code", "")
        if status is None:
            enhanced, smtp = _codes(diagnostic)
            status = enhanced or (f"{smtp[0]}.0.0" if smtp else None)
        if action in ("delivered", "relayed", "expanded") or (status or "").startswith("2"):
            return MachineVerdict("auto_reply", "rfc3464-dsn:success")
        if action == "delayed":
            hard: bool = False
        elif status and status[0] in "45":
            hard = status.startswith("5")
        elif action == "failed":
            hard = _severity(None, mail.text)
        else:
            continue
        recipient = _address(fields.get("final-recipient", "") or fields.get("original-recipient", ""))
        return MachineVerdict("bounce", "rfc3464-dsn", hard=hard, status=status, recipient=recipient)
    return None


def _looks_like_daemon(mail: ParsedMail) -> bool:
    """Sent by mail infrastructure: a daemon or postmaster address, or an empty return path."""
    display = mail.from_display.lower()
    return (
        bool(_DAEMON_RE.search(mail.from_address))
        or mail.header("Return-Path") == "<>"
        or mail.from_address in ("", "<>")
        or "mailer-daemon" in display
        or "mail delivery" in display
        or bool(mail.header("X-MLServer"))
    )


def _codes(text: str) -> tuple[str | None, str | None]:
    enhanced = next((m for m in _ENHANCED_RE.finditer(text) if m.group(1) in "45"), None)
    smtp = _SMTP_RE.search(text)
    return (".".join(enhanced.groups()) if enhanced else None, smtp.group(1) if smtp else None)


def _from_text(mail: ParsedMail) -> MachineVerdict | None:
    if not _looks_like_daemon(mail):
        return None
    text = mail.text
    enhanced, smtp = _codes(text)
    if re.search(r"\(success\)|relayed|delivered to", mail.subject, re.I):
        return None
    subject_hit = bool(_BOUNCE_SUBJECTS.search(mail.subject))
    body_hit = bool(_BODY_BOUNCE.search(text))
    if not (enhanced or smtp or subject_hit or body_hit):
        return None
    status = enhanced or (f"{smtp[0]}.0.0" if smtp else None)
    recipient = None
    found = re.search(r"<([^<>\s]+@[^<>\s]+)>|\b([\w.+-]+@[\w-]+(?:\.[\w-]+)+)\b", text)
    if found:
        recipient = (found.group(1) or found.group(2)).lower()
    rule = "bounce-text:" + (
        "enhanced-status" if enhanced else "smtp-code" if smtp else "subject" if subject_hit else "wording"
    )
    return MachineVerdict("bounce", rule, hard=_severity(status, text), status=status, recipient=recipient)


def _auto_submitted(mail: ParsedMail) -> str | None:
    value = mail.header("Auto-Submitted").lower()
    if value and value != "no":
        return f"auto-submitted:{value.split(';')[0]}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autorespond-Type", "X-Auto-Reply"):
        if mail.header(name):
            return name.lower()
    if mail.header("Precedence").lower() == "auto_reply":
        return "precedence:auto_reply"
    if mail.header("X-Auto-Response-Suppress") and mail.subject.lower().startswith(("automatic", "auto")):
        return "x-auto-response-suppress"
    if _AUTO_SUBJECTS.search(mail.subject.strip()):
        return "auto-reply-subject"
    return None


def classify_machine(mail: ParsedMail, received: dt.date) -> MachineVerdict | None:
    """Decide whether ``mail`` is machine mail, and what kind; None for a human message."""
    if "message/feedback-report" in mail.content_types:
        feedback = next(p for p in mail.message.walk() if p.get_content_type() == "message/feedback-report")
        merged = _fields(_part_source(feedback))
        return MachineVerdict(
            "complaint",
            f"rfc5965-arf:{merged.get('feedback-type', 'abuse').lower()}",
            recipient=_address(merged.get("original-rcpt-to", "")),
        )
    if _JMRP_SUBJECT.search(mail.subject) or "x-hmxmroriginalrecipient:" in mail.raw_text.lower():
        return MachineVerdict("complaint", "microsoft-jmrp")
    if mail.header("X-Apple-Unsubscribe").lower() == "true":
        # Apple Mail's unsubscribe button: handled as strictly as a complaint.
        return MachineVerdict("complaint", "x-apple-unsubscribe")
    dsn = _from_dsn(mail)
    if dsn is not None:
        return dsn
    bounce = _from_text(mail)
    if bounce is not None:
        return bounce
    auto = _auto_submitted(mail)
    if auto is None:
        return None
    received = mail.date.date() if mail.date else received
    if gone_verdict(mail.subject, mail.text) is not None:
        return MachineVerdict("unreachable", f"{auto}+gone-wording")
    if _OOO_WORDS.search(mail.subject) or _OOO_WORDS.search(mail.text):
        return MachineVerdict(
            "out_of_office", f"{auto}+ooo-wording", resume_on=absence_return(mail.text, received)
        )
    return MachineVerdict("auto_reply", auto)
