"""Text helpers of the offline provider: sentences and keyword matches, nothing clever.

The offline provider is extractive: every statement it makes is a sentence cut verbatim
from a fetched source, so its evidence always survives the contract's quote check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from gtm_pipeline.domain.sources import SourceDoc

_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_MIN_SENTENCE_CHARS = 25


@dataclass(frozen=True)
class Sentence:
    """A sentence of a source, verbatim."""

    doc: SourceDoc
    text: str


def sentences(doc: SourceDoc) -> list[Sentence]:
    """Sentences of a document, whitespace-folded (headings, markers and fragments skipped).

    Lines of one paragraph are joined with single spaces; the evidence check folds
    whitespace the same way, so a quote still matches the stored source text.
    """
    found: list[Sentence] = []
    paragraph: list[str] = []

    def flush() -> None:
        text = " ".join(paragraph)
        paragraph.clear()
        for part in _SENTENCE_END_RE.split(text):
            part = part.strip()
            if len(part) >= _MIN_SENTENCE_CHARS:
                found.append(Sentence(doc=doc, text=part))

    for raw_line in doc.text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            flush()
            continue
        if line[:2] in ("- ", "* ", "> "):
            flush()
            line = line[2:].strip()
        paragraph.append(line)
    flush()
    return found


def all_sentences(docs: Iterable[SourceDoc]) -> list[Sentence]:
    return [s for doc in docs for s in sentences(doc)]


def _pattern(keyword: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])" + re.escape(keyword.lower()) + r"(?![\w-])")


def matched_keywords(text: str, keywords: Iterable[str]) -> list[str]:
    """The keywords (case-insensitive, whole words or phrases) that occur in ``text``."""
    lowered = text.lower()
    return [kw for kw in keywords if _pattern(kw).search(lowered)]


def unique(items: Iterable[str]) -> list[str]:
    """Items in first-seen order without repeats."""
    return list(dict.fromkeys(items))


def shorten(text: str, limit: int) -> str:
    """Cut ``text`` at a word boundary to at most ``limit`` characters."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"
