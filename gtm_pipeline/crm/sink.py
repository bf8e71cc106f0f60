"""What a CRM must do for the pipeline, whatever the CRM: the :class:`CrmSink` protocol.

Small on purpose: match-or-create a company by its domain and a contact by their address (a CRM the
team already fills must not get duplicates), leave a note, delete what was created (erasure), and
list deal stages (the outcome the journal waits for). Every failure is a :class:`CrmError` carrying
the HTTP status and the CRM's own short words, never the request's content.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class CrmError(RuntimeError):
    """A CRM call failed (after the SDK's own waits on 429). ``status`` is the HTTP status (0: no
    answer). The message holds no personal data: status and reason only."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Upserted:
    """A CRM object's id, and whether this call created it (False: an existing one was matched)."""

    id: str
    created: bool


@dataclass(frozen=True)
class DealStage:
    """A deal as the poll reads it: its id, its stage, and the companies and contacts it is
    associated with (a deal names its contacts when the sales team linked them)."""

    deal_id: str
    stage: str
    company_ids: tuple[str, ...]
    contact_ids: tuple[str, ...] = ()


class CrmSink(Protocol):
    """A CRM the pipeline pushes to and reads deals back from."""

    name: str

    def upsert_company(self, *, domain: str, name: str) -> Upserted: ...

    def upsert_contact(
        self, *, email: str, name: str | None, role: str | None, company_id: str
    ) -> Upserted: ...

    def add_note(self, body: str, *, company_id: str, contact_id: str) -> str: ...

    def delete_contact(self, contact_id: str) -> bool:
        """True when deleted now, False when it was already gone (both: it is not there)."""
        ...

    def delete_company(self, company_id: str) -> bool: ...

    def delete_note(self, note_id: str) -> bool: ...

    def deal_stages(self) -> list[DealStage]:
        """Every open or closed deal with its stage (empty for a sink that cannot read back)."""
        ...
