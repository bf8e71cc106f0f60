"""Importing a list: read it, plan it, and register what is new in one transaction.

An imported company is a prospect in state ``discovered``, exactly like one discovery found: its
research fetches its sources and the augment-profile skill qualifies it on dated behavioural
signals, so a list of thousands becomes the few with a reason to write, and every other one ends
``not_a_fit`` with the reason journaled. The import itself decides only what is certain from the
file: which rows name a company, which address is a person's own, what merges, what is suppressed
(never stored again) and what conflicts with an account.

One transaction: a failure leaves nothing half-imported, and the same file imported again for
the same hypothesis changes nothing (prospects by domain, contacts by address, the import by the
file's hash).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gtm_pipeline.domain.hypothesis import Hypothesis
from gtm_pipeline.domain.ids import email_hash, prospect_id
from gtm_pipeline.domain.mailboxes import domain_of
from gtm_pipeline.domain.states import ACTIVE, Event
from gtm_pipeline.imports.deliverability import undeliverable_domains
from gtm_pipeline.imports.mapping import MappingError, header_key, known_columns, resolve
from gtm_pipeline.imports.plan import ImportPlan, Note, PlannedCompany, PlannedContact, build_plan
from gtm_pipeline.imports.table import detect_shape, rows
from gtm_pipeline.pipeline.conflicts import CONFLICT_ACTOR, Account, account_conflict
from gtm_pipeline.store import NewProspect, Store
from gtm_pipeline.store import schema as t
from gtm_pipeline.store.contacts import NewContact

CHUNK = 500  # identities per IN (...) query: well inside SQLite's and Postgres' parameter limits


@dataclass
class ImportReport:
    """What an import did (or, on a dry run, would do): ids, lines and reasons, no personal data."""

    file: str
    hypothesis: str
    shape: str
    mapping: dict[str, str]
    rows: int
    imported: list[str] = field(default_factory=list)
    merged: list[int] = field(default_factory=list)
    skipped: list[Note] = field(default_factory=list)
    warnings: list[Note] = field(default_factory=list)
    contacts_added: int = 0
    addressees_set: list[str] = field(default_factory=list)  # known prospects given an addressee
    suppressed_opt_outs: int = 0  # addresses the list marks opted out, now on the suppression list
    without_reachable_contact: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    already_imported: bool = False
    dry_run: bool = False
    import_id: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "hypothesis": self.hypothesis,
            "dry_run": self.dry_run,
            "already_imported": self.already_imported,
            "shape": self.shape,
            "mapping": self.mapping,
            "rows": self.rows,
            "imported": len(self.imported),
            "merged": len(self.merged),
            "skipped": [n.as_dict() for n in self.skipped],
            "warnings": [n.as_dict() for n in self.warnings],
            "contacts_added": self.contacts_added,
            "addressees_set": len(self.addressees_set),
            "suppressed_opt_outs": self.suppressed_opt_outs,
            "without_reachable_contact": len(self.without_reachable_contact),
            "conflicts": len(self.conflicts),
            "prospect_ids": self.imported,
        }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def read_plan(
    path: Path, overrides: list[str], *, check_mx: bool = False, resolver: Any | None = None
) -> ImportPlan:
    """Read and plan ``path`` (streamed): nothing is written. ``check_mx``: ask DNS, once per domain,
    whether each address's domain takes mail; contacts at a domain that does not are kept, flagged
    ``undeliverable``, and never an addressee."""
    named = {header_key(item.partition("=")[0]) for item in overrides}
    # A header an override names counts as known, so --map can rescue a file of unusual headers.
    shape = detect_shape(
        path, lambda cells: known_columns(cells) + sum(header_key(c) in named for c in cells)
    )
    mapping = resolve(shape.headers, overrides)
    if not mapping.fields() & {"domain", "email"}:
        raise MappingError(
            "no column is a domain, website or email, so no row can name a company; "
            "name one with --map 'Header=domain' (or =email)"
        )
    plan = build_plan(
        file_name=path.name,
        file_sha256=file_sha256(path),
        shape=shape,
        mapping=mapping,
        rows=rows(path, shape),
    )
    if check_mx:
        _flag_undeliverable(plan, resolver)
    return plan


def _flag_undeliverable(plan: ImportPlan, resolver: Any | None) -> None:
    contacts = [c for company in plan.companies.values() for c in company.contacts if c.email]
    failing = undeliverable_domains((domain_of(c.email) for c in contacts if c.email), resolver)
    for contact in contacts:
        why = failing.get(domain_of(contact.email or ""))
        if why is not None:
            if not why.startswith("unknown"):
                contact.flags.append("undeliverable")
            plan.warnings.append(Note(contact.line, f"the address's domain: {why}"))


def apply_plan(
    store: Store,
    plan: ImportPlan,
    hypothesis: Hypothesis,
    accounts: Mapping[str, Account],
    *,
    actor: str,
    dry_run: bool = False,
) -> ImportReport:
    """Register the plan's new companies and contacts in one transaction (none on a dry run)."""
    import_id = hashlib.sha256(f"{plan.file_sha256}\x1f{hypothesis.slug}".encode()).hexdigest()[:40]
    report = ImportReport(
        file=plan.file_name,
        hypothesis=hypothesis.slug,
        shape=plan.shape.describe(),
        mapping=plan.mapping.decisions,
        rows=plan.rows,
        skipped=list(plan.skipped),
        warnings=list(plan.warnings),
        merged=list(plan.merged_lines),
        dry_run=dry_run,
        import_id=import_id,
    )
    now = store.now()
    companies = list(plan.companies.values())
    ids = {company.domain: prospect_id(company.domain) for company in companies}
    emails = {c.email: email_hash(c.email) for co in companies for c in co.contacts if c.email}
    # A dry run runs this very code in a transaction that is rolled back: the same numbers, no change.
    with store.rolled_back() if dry_run else store.writing() as c:
        # Read inside the write transaction (SQLite: BEGIN IMMEDIATE): a suppression or a second
        # import of this file committed a moment ago is seen, never raced.
        report.already_imported = store.imports.exists_in(c, import_id)
        suppressed = _suppressed(c, [*ids.values(), *emails.values()])
        known = _existing(c, list(ids.values()))
        for address in plan.opted_out:
            digest = email_hash(address)
            report.suppressed_opt_outs += int(
                store.privacy.suppress_in(c, digest, kind="email", reason=f"opted out in {plan.file_name}")
            )
            suppressed.setdefault(digest, f"opted out in {plan.file_name}")
        merged = set(report.merged)
        merged_pids: set[str] = set()
        fresh: list[tuple[NewProspect, dict[str, Any]]] = []
        contact_rows: list[tuple[str, NewContact]] = []
        addressees: dict[str, PlannedContact | None] = {}
        for company in companies:
            pid = ids[company.domain]
            if pid in suppressed:
                report.skipped.extend(
                    Note(line, f"suppressed ({suppressed[pid]}): never imported again")
                    for line in company.lines
                )
                merged -= set(company.lines)  # a line is skipped or merged, never both
                continue
            contacts = _allowed_contacts(company, emails, suppressed, report)
            contact_rows.extend((pid, _new_contact(plan, contact, emails)) for contact in contacts)
            if pid in known:
                merged.update(company.lines)
                merged_pids.add(pid)
                continue
            known.add(pid)
            addressee = next((ct for ct in contacts if ct.reachable), None)
            addressees[pid] = addressee
            fresh.append(
                (
                    _new_prospect(pid, company, addressee, hypothesis),
                    _origin(plan, import_id, company, hypothesis, contacts, addressee),
                )
            )
            report.imported.append(pid)
            if addressee is None:
                report.without_reachable_contact.append(pid)
        report.merged = sorted(merged)
        store.prospects.add_many_in(c, fresh, actor=actor, now=now)
        report.contacts_added = store.contacts.add_many_in(c, contact_rows, now=now)
        for pid in sorted(merged_pids):
            # A list that brings a person's own address for a company that had nobody to write to.
            if store.contacts.choose_addressee_in(c, pid, actor=actor, now=now):
                report.addressees_set.append(pid)
        elsewhere = _active_with(c, [emails[a.email] for a in addressees.values() if a and a.email])
        for new, _payload in fresh:
            addressee = addressees[new.id]
            addressee_hash = emails[addressee.email] if addressee and addressee.email else None
            others = sorted(elsewhere.get(addressee_hash, set()) - {new.id}) if addressee_hash else []
            reason = account_conflict(accounts, new.company_domain) or (
                f"the same person is already an active prospect ({others[0]})" if others else None
            )
            if reason is not None:
                store.prospects.apply_in(
                    c, new.id, Event.CONFLICT_DETECTED, actor=CONFLICT_ACTOR, rationale=reason, at=now
                )
                report.conflicts.append(new.id)
        if not report.already_imported:
            store.imports.record_in(
                c,
                import_id=import_id,
                file_name=plan.file_name,
                file_sha256=plan.file_sha256,
                hypothesis=hypothesis.slug,
                actor=actor,
                summary={k: v for k, v in report.as_dict().items() if k != "prospect_ids"},
                now=now,
            )
    report.skipped.sort(key=lambda n: n.line)
    return report


def _suppressed(c: sa.Connection, identities: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(identities), CHUNK):
        chunk = identities[start : start + CHUNK]
        query = sa.select(t.suppressions.c.identity, t.suppressions.c.reason).where(
            t.suppressions.c.identity.in_(chunk)
        )
        found.update({row.identity: str(row.reason) for row in c.execute(query)})
    return found


def _existing(c: sa.Connection, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        found.update(
            row.id for row in c.execute(sa.select(t.prospects.c.id).where(t.prospects.c.id.in_(chunk)))
        )
    return found


def _new_prospect(
    pid: str, company: PlannedCompany, addressee: PlannedContact | None, hypothesis: Hypothesis
) -> NewProspect:
    return NewProspect(
        id=pid,
        hypothesis_slug=hypothesis.slug,
        company_domain=company.domain,
        company_name=company.name,
        contact_name=addressee.name if addressee else None,
        contact_email=addressee.email if addressee else None,
        contact_role=addressee.title if addressee else None,
        contact_timezone=addressee.timezone if addressee else None,
    )


def _origin(
    plan: ImportPlan,
    import_id: str,
    company: PlannedCompany,
    hypothesis: Hypothesis,
    contacts: list[PlannedContact],
    addressee: PlannedContact | None,
) -> dict[str, Any]:
    """The ``discovered`` entry of an imported prospect: where it came from (no personal data)."""
    return {
        "origin": "import",
        "import_id": import_id,
        "file": plan.file_name,
        "line": company.line,
        "row_hash": company.row_hash,
        "hypothesis": hypothesis.slug,
        "hypothesis_version": hypothesis.version,
        "contacts": len(contacts),
        "reachable_contact": addressee is not None,
    }


def _allowed_contacts(
    company: PlannedCompany, emails: dict[str, str], suppressed: dict[str, str], report: ImportReport
) -> list[PlannedContact]:
    allowed = []
    for contact in company.contacts:
        if contact.email and emails[contact.email] in suppressed:
            report.warnings.append(Note(contact.line, "suppressed address: not imported"))
            continue
        allowed.append(contact)
    return allowed


def _new_contact(plan: ImportPlan, contact: PlannedContact, hashes: dict[str, str]) -> NewContact:
    return NewContact(
        name=contact.name,
        title=contact.title,
        email=contact.email,
        flags=list(contact.flags),
        source_kind="import",
        source=plan.file_name,
        source_hash=contact.row_hash,
        email_hash=hashes[contact.email] if contact.email else None,
    )


def _active_with(c: sa.Connection, hashes: list[str]) -> dict[str, set[str]]:
    """Active prospects whose addressee has one of ``hashes``: the same person reached twice."""
    found: dict[str, set[str]] = {}
    active = [s.value for s in ACTIVE]
    for start in range(0, len(hashes), CHUNK):
        query = sa.select(t.prospects.c.id, t.prospects.c.contact_email_hash).where(
            t.prospects.c.contact_email_hash.in_(hashes[start : start + CHUNK]),
            t.prospects.c.state.in_(active),
        )
        for row in c.execute(query):
            found.setdefault(row.contact_email_hash, set()).add(row.id)
    return found
