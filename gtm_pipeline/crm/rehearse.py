"""The CRM's part of the rehearsal: push to the HubSpot twin, win a deal there, read it back.

The lead's rehearsal calls :func:`sync_and_win` once its campaign has replies and bookings; what
comes back says what the CRM holds and which prospects' deals were journaled, so the rehearsal can
assert "the CRM twin holds exactly these companies" and "a deal was won".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from gtm_pipeline.config.crm import CrmSettings
from gtm_pipeline.crm.hubspot import HubSpotSink
from gtm_pipeline.crm.sync import erase_pass, poll_deals, push_pass
from gtm_pipeline.domain.states import State
from gtm_pipeline.store import Store


class SalesTeamCrm(Protocol):
    """What the rehearsal needs of the HubSpot twin (:class:`gtm_pipeline.twins.hubspot.HubSpotTwin`):
    where it is, its token, and the sales team's hands. A protocol, so product code never imports a
    twin (the layering rule); the rehearsal, a composition root, passes the twin in."""

    token: str

    @property
    def url(self) -> str: ...

    def add_deal(self, domain: str, *, stage: str = ..., name: str = ...) -> str: ...

    def set_stage(self, deal_id: str, stage: str) -> None: ...

    def domains(self) -> set[str]: ...


@dataclass
class CrmRehearsal:
    """What the rehearsed CRM sync did (opaque ids, domains of companies, counts)."""

    pushed: dict[str, int]
    erased: dict[str, int]
    polled: dict[str, int]
    won: list[str] = field(default_factory=list)
    deal_ids: list[str] = field(default_factory=list)
    crm_domains: set[str] = field(default_factory=set)


def sync_and_win(
    store: Store,
    twin: SalesTeamCrm,
    *,
    console_url: str,
    win: int = 1,
    prefer: tuple[str, ...] = (),
    settings: CrmSettings | None = None,
) -> CrmRehearsal:
    """Push what the triggers ask for to ``twin``, then (acting as the sales team) open a deal and
    mark it ``closedwon`` for up to ``win`` pushed prospects that have a meeting (those in ``prefer``
    first), and poll it back
    into the journal as ``deal_won``. Erasures queued before are carried out first."""
    crm = settings or CrmSettings(kind="hubspot", api_url=twin.url)
    sink = HubSpotSink(token=twin.token, api_url=twin.url, clock=store.clock, timeout_s=crm.timeout_s)
    erased = erase_pass(store, sink, crm)
    pushed = push_pass(store, sink, crm, console_url=console_url)
    meetings = {State.MEETING_BOOKED.value, "meeting_held"}
    deal_ids: list[str] = []
    chosen: list[str] = []
    # The prospects named in ``prefer`` first (the rehearsal's held meeting), then by id.
    for pid in sorted(set(pushed.prospects), key=lambda p: (p not in prefer, p)):
        prospect = store.prospects.get(pid)
        if prospect is not None and prospect.state.value in meetings and len(chosen) < win:
            deal = twin.add_deal(prospect.company_domain, name=f"{prospect.company_name} pilot")
            twin.set_stage(deal, "closedwon")
            deal_ids.append(deal)
            chosen.append(pid)
    polled = poll_deals(store, sink, crm)
    won = [pid for pid in chosen if (p := store.prospects.get(pid)) is not None and p.state is State.WON]
    return CrmRehearsal(
        pushed=pushed.as_dict(),
        erased=erased.as_dict(),
        polled=polled.as_dict(),
        won=won,
        deal_ids=deal_ids,
        crm_domains=twin.domains(),
    )
