"""Fetched source documents and the evidence check (pure).

Source text is untrusted input: it is carried as data and quoted, never obeyed. The
evidence check is what makes a result trustworthy: every quote must occur in a source
fetched for *this* prospect, so a made-up source or an invented quote fails validation.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from gtm_pipeline.domain.contracts import EvidenceRef

_SPACE_RE = re.compile(r"\s+")
_QUOTE_MAP = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"}
)


@dataclass(frozen=True)
class SourceDoc:
    """One fetched document."""

    source_id: str
    url: str
    kind: str
    title: str
    text: str
    published_on: dt.date | None
    retrieved_at: dt.datetime
    content_hash: str


MIN_QUOTE = 3  # characters; a shorter quote must be a whole line of its source


def normalize_for_match(text: str) -> str:
    """Fold whitespace, typographic quotes and Unicode forms so layout does not matter."""
    return _SPACE_RE.sub(" ", unicodedata.normalize("NFKC", text).translate(_QUOTE_MAP)).strip()


def _lines(doc: SourceDoc) -> set[str]:
    return {normalize_for_match(line) for line in doc.text.splitlines()}


def evidence_problems(evidence: list[EvidenceRef], sources: list[SourceDoc]) -> list[str]:
    """Every way ``evidence`` fails to be grounded in ``sources`` (empty when it holds)."""
    by_id = {doc.source_id: normalize_for_match(doc.text) for doc in sources}
    docs = {doc.source_id: doc for doc in sources}
    problems: list[str] = []
    for index, ref in enumerate(evidence):
        text = by_id.get(ref.source_id)
        if text is None:
            problems.append(f"evidence[{index}]: source {ref.source_id!r} was not fetched for this prospect")
        elif not (quote := normalize_for_match(ref.quote)):
            problems.append(f"evidence[{index}]: the quote is empty")
        elif quote not in text:
            problems.append(f"evidence[{index}]: quote does not occur in source {ref.source_id!r}")
        elif len(quote) < MIN_QUOTE and quote not in _lines(docs[ref.source_id]):
            # A character or two occurs in almost any text: it grounds nothing unless it is a whole
            # line of the source (a reply of "Ok", or "👍" above a signature).
            problems.append(
                f"evidence[{index}]: quote shorter than {MIN_QUOTE} characters"
                " and not a whole line of the source"
            )
    return problems
