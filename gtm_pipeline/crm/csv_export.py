"""A CRM-less team's export: companies, contacts and notes as CSV files any CRM imports.

Why not Salesforce here: ``simple-salesforce`` would fit the calls (SOQL by ``Website`` / ``Email``,
``sobject.create`` / ``delete``, ``Opportunity.StageName``), but an Account has no unique domain
to match on, Leads and Contacts are two models a team chooses between, and a twin of Salesforce's
REST + SOQL is its own piece of work; files cover "import into any CRM" honestly until then.

The files live under the workspace's home (readable by the owner only, like the store); ids are
stable hashes of the domain and address, so a repeated push rewrites the same row, and an erasure
deletes the contact's row and its note's. Each row keeps the key of the push that first wrote it
(``push_key``, opaque), as HubSpot's objects keep ``gtm_push_id``: a retry that finds the row
knows it is its own, and :meth:`CsvSink.find_tagged` answers an erasure's search. No deal comes
back from a file: :meth:`deal_stages` is empty, and the pass says nothing was read.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from gtm_pipeline.crm.sink import CrmError, DealStage, Upserted

FILES = {
    "companies": ("id", "domain", "name", "push_key"),
    "contacts": ("id", "email", "name", "role", "company_id", "push_key"),
    "notes": ("id", "company_id", "contact_id", "body", "push_key"),
}


def _id(kind: str, key: str) -> str:
    return f"{kind[:2]}_{hashlib.sha256(f'{kind}:{key.lower()}'.encode()).hexdigest()[:16]}"


class CsvSink:
    """:class:`~gtm_pipeline.crm.sink.CrmSink` writing ``companies.csv``, ``contacts.csv``, ``notes.csv``."""

    name = "csv"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    def rows(self, kind: str) -> list[dict[str, str]]:
        path = self.folder / f"{kind}.csv"
        if not path.is_file():
            return []
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                return list(csv.DictReader(handle))
        except OSError as exc:  # a failure the pass records, like an HTTP one (no content in it)
            raise CrmError(f"CSV export: reading {kind}.csv failed ({exc.strerror})") from None

    def _write(self, kind: str, rows: list[dict[str, str]]) -> None:
        path, temporary = self.folder / f"{kind}.csv", self.folder / f".{kind}.csv.tmp"
        try:
            fd = os.open(temporary, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=FILES[kind])
                writer.writeheader()
                writer.writerows(rows)
            temporary.replace(path)  # a reader never sees half a file
        except OSError as exc:
            raise CrmError(f"CSV export: writing {kind}.csv failed ({exc.strerror})") from None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One read-modify-write at a time across processes (the schedule, a rehearsal, the CLI):
        without it two passes would each write their own row and one would be lost."""
        fd = os.open(self.folder / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _upsert(self, kind: str, row: dict[str, str], key: str | None) -> Upserted:
        """Write ``row``; a row already there keeps the key of the push that first wrote it, and
        counts as created by this push only when that key is this push's."""
        with self._locked():
            rows = self.rows(kind)
            before = next((r for r in rows if r["id"] == row["id"]), None)
            first_key = (before.get("push_key") or "") if before is not None else (key or "")
            self._write(kind, [r for r in rows if r["id"] != row["id"]] + [{**row, "push_key": first_key}])
        return Upserted(row["id"], created=before is None or (bool(key) and first_key == key))

    def upsert_company(self, *, domain: str, name: str, key: str | None = None) -> Upserted:
        row = {"id": _id("companies", domain), "domain": domain, "name": name}
        return self._upsert("companies", row, key)

    def upsert_contact(
        self, *, email: str, name: str | None, role: str | None, company_id: str, key: str | None = None
    ) -> Upserted:
        row = {"id": _id("contacts", email), "email": email, "name": name or "", "role": role or ""}
        return self._upsert("contacts", {**row, "company_id": company_id}, key)

    def add_note(self, body: str, *, company_id: str, contact_id: str, key: str | None = None) -> str:
        row = {"id": _id("notes", f"{contact_id}:{body}"), "company_id": company_id, "contact_id": contact_id}
        return self._upsert("notes", {**row, "body": body}, key).id

    def find_tagged(self, kind: str, key: str) -> list[str]:
        return [r["id"] for r in self.rows(kind) if r.get("push_key") == key]

    def _delete(self, kind: str, object_id: str) -> bool:
        with self._locked():
            rows = self.rows(kind)
            kept = [r for r in rows if r["id"] != object_id]
            if len(kept) == len(rows):
                return False
            self._write(kind, kept)
        return True

    def delete_contact(self, contact_id: str) -> bool:
        return self._delete("contacts", contact_id)

    def delete_company(self, company_id: str) -> bool:
        return self._delete("companies", company_id)

    def delete_note(self, note_id: str) -> bool:
        return self._delete("notes", note_id)

    def deal_stages(self) -> list[DealStage]:
        return []
