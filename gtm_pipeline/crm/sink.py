"""What a CRM must do for the pipeline, whatever the CRM: the :class:`CrmSink` protocol.

Small on purpose: match-or-create a company by its domain and a contact by their address (a CRM the
team already fills must not get duplicates), leave a note, delete what was created (erasure), and
list deal stages (the outcome the journal waits for). Every failure is a :class:`CrmError` carrying
the HTTP status and the CRM's own short words, never the request's content.

Every object a push creates carries the push's key (:func:`push_key`, opaque: the prospect's id and
the row's, no personal data) in a property of its own. A create whose answer was lost (a read
timeout, a 5xx after the write) left an object whose id the pipeline never learnt; the key is how a
retry recognises it as its own (``created`` stays true) and how an erasure finds it
(:meth:`CrmSink.find_tagged`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class CrmError(RuntimeError):
    """A CRM call failed (after the SDK's own waits on 429). ``status`` is the HTTP status (0: no
    answer). The message holds no personal data: status and reason only."""

    def __init__(self, message: str, *, status: int = 0, maybe_written: bool = False) -> None:
        super().__init__(message)
        self.status = status
        # A create that got no answer, or a 5xx: the CRM may hold the object all the same.
        self.maybe_written = maybe_written


def push_key(prospect_id: str, push_id: int) -> str:
    """The tag a push writes on what it creates: opaque ids only (the prospect's is a hash)."""
    return f"gtm-{prospect_id}-{push_id}"


@dataclass(frozen=True)
class Upserted:
    """A CRM object's id, and whether the pipeline created it (this call, or an earlier attempt of the
    same push whose answer was lost: the object carries the push's key). False: it was matched, the
    team's CRM held it before, and the pipeline must never delete it."""

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

    def upsert_company(self, *, domain: str, name: str, key: str | None = None) -> Upserted: ...

    def upsert_contact(
        self, *, email: str, name: str | None, role: str | None, company_id: str, key: str | None = None
    ) -> Upserted:
        """Match by address (then nothing is written on the contact), else create it tagged ``key``
        (None: untagged, as a person adds one by hand)."""
        ...

    def add_note(self, body: str, *, company_id: str, contact_id: str, key: str | None = None) -> str: ...

    def find_tagged(self, kind: str, key: str) -> list[str]:
        """Ids of the ``kind`` objects (companies, contacts, notes) carrying the push key ``key``."""
        ...

    def delete_contact(self, contact_id: str) -> bool:
        """True when deleted now, False when it was already gone (both: it is not there)."""
        ...

    def delete_company(self, company_id: str) -> bool: ...

    def delete_note(self, note_id: str) -> bool: ...

    def deal_stages(self) -> list[DealStage]:
        """Every open or closed deal with its stage (empty for a sink that cannot read back)."""
        ...
