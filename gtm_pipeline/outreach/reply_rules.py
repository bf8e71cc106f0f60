"""What a human reply decides by itself: stop requests, complaints, erasure requests.

Compliance is never left to a model: "unsubscribe", "bitte keine E-Mails mehr",
"retirez-moi de votre liste", "this is spam" are matched here by plain rules, in the
common languages of B2B mail, on the *newest* text only (quoted history and signatures
are stripped first: our own quoted email must never be read as the prospect's words).
What these rules do not decide goes to the classify-reply skill.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

RuleCategory = Literal["unsubscribe", "complaint"]

_QUOTE_HEADERS = re.compile(
    r"^\s*(?:"
    r"on .{3,200}wrote:|"  # English (Gmail, Apple)
    r"-{2,}\s*original message\s*-{2,}|"
    r"_{5,}|"  # Outlook separator
    r"from:\s.*|de\s?:\s.*|von:\s.*|"  # Outlook header blocks
    r"le .{3,200}a écrit\s?:|"  # French
    r"am .{3,200}schrieb .{0,200}:|"  # German
    r"el .{3,200}escribió:|"  # Spanish
    r"em .{3,200}escreveu:|"  # Portuguese
    r"il giorno .{3,200}ha scritto:|"  # Italian
    r"op .{3,200}schreef .{0,200}:"  # Dutch
    r")\s*$",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(
    r"^(?:--\s?|sent from my \w+.*|get outlook for \w+.*|envoyé de mon \w+.*|von meinem \w+ gesendet.*)$",
    re.IGNORECASE,
)

_UNSUBSCRIBE = re.compile(
    r"\bunsubscribe\b|\bremove me\b|\btake me off\b|\bopt[- ]?out\b|"
    r"\bstop (e-?mailing|emails?|contacting|messaging|writing|sending)\b|"
    r"\b(do not|don'?t|please don'?t|never) (contact|e-?mail|write to|message) me\b|"
    r"\bno (more|further) (e-?mails|emails|messages|contact)\b|\bdon'?t (ever )?email me again\b|"
    r"\bremove (my|this) (e-?mail|address|name)\b|\bnot interested,? (please )?stop\b|^\s*stop\.?\s*$|"
    # German
    r"\babmelden\b|\baustragen\b|\bkeine (weiteren )?(e-?mails|nachrichten)\b|"
    r"\bbitte (entfernen|löschen) sie\b|"
    r"\bkontaktieren sie mich nicht\b|"
    # French
    r"\bdésabonn|\bdésinscri|\bretirez[- ]moi\b|\bne (plus|me) (m'?écrire|contacter|recevoir)|"
    r"\bne me contactez plus\b|\bsupprimez[- ]moi\b|"
    # Spanish / Portuguese
    r"\bdar(me)? de baja\b|\bno me (contacte|contactes|escriba|escribas)\b|\belim[ií]n(e|a)(n)?me\b|"
    r"\bdescadastr|\bnão (quero|desejo) (mais )?receber\b|\bremova meu\b|"
    # Italian / Dutch
    r"\bdisiscriv|\bcancellami\b|\bnon (contattarmi|scrivermi)\b|\bafmelden\b|\buitschrijven\b|"
    r"\bverwijder (mij|me)\b",
    re.IGNORECASE | re.MULTILINE,
)
_COMPLAINT = re.compile(
    r"\b(this is|that's|it's|stop (the )?)\s*spam(ming)?\b|\breport(ed|ing)? (you|this) (as spam|to)\b|"
    r"\bmarked (this|it|you) as spam\b|\bharass(ment|ing)\b|\bfile a complaint\b|"
    r"\bc'est du spam\b|\besto es spam\b|\bdas ist spam\b|\bè spam\b",
    re.IGNORECASE,
)
_ERASURE = re.compile(
    r"\b(delete|erase|remove|purge) (all )?(my|of my) (personal )?(data|information|details)\b|"
    r"\bright to (be forgotten|erasure)\b|\bdata erasure\b|\blöschen sie meine daten\b|"
    r"\bsupprimez mes données\b|\bborren mis datos\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class RuleVerdict:
    """A category decided by a rule, the rule's name and the words that triggered it."""

    category: RuleCategory
    rule: str
    matched: str
    erasure_requested: bool = False


def newest_text(text: str) -> str:
    """The sender's own new words: quoted history, ``>`` lines and signatures removed."""
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        if _QUOTE_HEADERS.match(stripped) or _SIGNATURE.match(stripped):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


def rule_verdict(subject: str, newest: str) -> RuleVerdict | None:
    """A stop request or complaint in the subject or the newest text, if any."""
    text = f"{subject}\n{newest}"
    erasure = _ERASURE.search(text)
    complaint = _COMPLAINT.search(text)
    if complaint:
        return RuleVerdict("complaint", "rule:complaint-phrase@1", complaint.group(0), bool(erasure))
    unsubscribe = _UNSUBSCRIBE.search(text)
    if unsubscribe or erasure:
        hit = unsubscribe or erasure
        assert hit is not None
        return RuleVerdict("unsubscribe", "rule:stop-phrase@1", hit.group(0), bool(erasure))
    return None
