"""What the demo must conclude on the sample corpus, derived from the corpus itself.

Each company's ``company.yaml`` says in its ``note`` what the corpus was built to show (``fit``,
``not a fit: …``, ``rejected at discovery: …``, ``duplicate of …``, ``dead letter: …``), and the
bundled accounts list names the fits that are customers or open deals (conflicts). Tests compare
the pipeline's counts with these, so a corpus change moves the expectations with it.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from functools import cache

import yaml

from gtm_pipeline.config import STARTER
from gtm_pipeline.domain.ids import normalize_domain

CORPUS = STARTER / "corpus"


@dataclass(frozen=True)
class Expected:
    candidates: int
    prospects: int  # registered: every candidate but discovery rejections and duplicate spellings
    qualified: int  # fits that are not on the accounts list
    not_a_fit: int
    conflicts: int
    dead_lettered: int

    @property
    def by_state(self) -> dict[str, int]:
        states = {
            "awaiting_review": self.qualified,
            "conflict": self.conflicts,
            "not_a_fit": self.not_a_fit,
            "researching": self.dead_lettered,
        }
        return {state: n for state, n in sorted(states.items()) if n}


@cache
def expected() -> Expected:
    accounts = {
        normalize_domain(row["domain"])
        for row in csv.DictReader((STARTER / "accounts.csv").open(encoding="utf-8"))
        if row["relationship"] in ("customer", "open_deal")
    }
    kinds: Counter[str] = Counter()
    for company in sorted(CORPUS.glob("*/company.yaml")):
        data = yaml.safe_load(company.read_text(encoding="utf-8"))
        note = str(data.get("note", ""))
        if note.startswith("rejected at discovery"):
            kinds["rejected"] += 1
        elif note.startswith("duplicate of"):
            kinds["duplicate"] += 1
        elif note.startswith("not a fit"):
            kinds["not_a_fit"] += 1
        elif note.startswith("dead letter"):
            kinds["dead_letter"] += 1
        elif note.startswith("fit"):
            kinds["conflict" if normalize_domain(data["domain"]) in accounts else "fit"] += 1
        else:
            raise AssertionError(f"{company}: a note the tests do not know: {note!r}")
    candidates = sum(kinds.values())
    return Expected(
        candidates=candidates,
        prospects=candidates - kinds["rejected"] - kinds["duplicate"],
        qualified=kinds["fit"],
        not_a_fit=kinds["not_a_fit"],
        conflicts=kinds["conflict"],
        dead_lettered=kinds["dead_letter"],
    )


# The sample corpus as scripts/build_sample_corpus.py writes it: 28 companies (one of them twice
# under another spelling), of which discovery rejects 4, 13 fit (2 of them customers or open deals),
# 8 are not a fit and 1 has a page that extracts so badly its profile is dead-lettered. Pinned so a
# lost company file cannot silently shrink what every derived expectation checks.
BUILT = Expected(candidates=28, prospects=22, qualified=11, not_a_fit=8, conflicts=2, dead_lettered=1)
