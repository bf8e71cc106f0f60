"""Conflict detection: never a second touch, never a touch to a customer or an open deal.

A conflict is a first-class destination, not a silent skip: the prospect stays visible,
in state ``conflict``, with the reason journaled, until the operator resolves it.

* the company is on the operator's accounts list (``$GTM_HOME/accounts.csv``: existing
  customers, open deals, partners);
* the same person (email hash) is already a prospect at another account;
* the company, already a prospect under one hypothesis, is found again by another.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gtm_pipeline.domain.ids import InvalidIdentityError, normalize_domain
from gtm_pipeline.domain.states import ACTIVE

RELATIONSHIPS = ("customer", "open_deal", "partner", "competitor")


CONFLICT_ACTOR = "rule:conflict@1"


class AccountsFileError(ValueError):
    """The operator's accounts list cannot be read."""


@dataclass(frozen=True)
class Account:
    """A company the team already has a relationship with."""

    domain: str
    relationship: str


def load_accounts(path: Path) -> dict[str, Account]:
    """Read ``domain,relationship[,note]`` rows; a missing file means no accounts."""
    if not path.is_file():
        return {}
    accounts: dict[str, Account] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            try:
                domain = normalize_domain(row.get("domain") or "")
            except InvalidIdentityError as exc:
                raise AccountsFileError(f"{path}:{line}: domain: {exc}") from exc
            relationship = (row.get("relationship") or "").strip()
            if relationship not in RELATIONSHIPS:
                raise AccountsFileError(f"{path}:{line}: relationship must be one of {RELATIONSHIPS}")
            accounts[domain] = Account(domain, relationship)
    return accounts


def account_conflict(accounts: Mapping[str, Account], domain: str) -> str | None:
    account = accounts.get(normalize_domain(domain))
    return f"the company is an existing {account.relationship.replace('_', ' ')}" if account else None


def person_conflict(other_prospects: list[tuple[str, str]], prospect_id: str) -> str | None:
    """``other_prospects`` are (id, state) of prospects with the same contact email hash."""
    for other_id, state in other_prospects:
        if other_id != prospect_id and state in {s.value for s in ACTIVE}:
            return f"the same person is already an active prospect ({other_id})"
    return None
