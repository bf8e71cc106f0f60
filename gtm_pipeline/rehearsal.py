"""Rehearse a campaign end to end against the Resend twin, before going live.

The operator's approvals, the send step (policy, ledger, idempotency), the twin playing
each recipient, Svix-signed webhooks into the real receiver over HTTP, and the inbound
processing: the same code as production, with only the far end simulated. Days are
simulated with a manual clock that the store, the steps and the twin's recipients all
read, so the warm-up ramp and the caps show and every record of a day carries that day.

This is a composition root (like ``app.py`` and the CLI): the one product module that may
use a twin. It works on whatever services it is given; ``gtm rehearse`` gives it a copy of
the operator's store in a folder of its own, so the operator's data is never changed and
the rehearsal's approve-all never enters the graduation record.

With ``meetings``, the campaign then goes on to its meetings: the scheduler twins
(:mod:`gtm_pipeline.twins.booking`) POST signed bookings to the real booking receiver over HTTP,
each delivered ``duplicates`` times: a prospect who replied books on Cal.com and the meeting is held,
another books on Calendly, and one who never replied books from the first email and cancels. Then the
CRM: what replied or booked is pushed to the HubSpot twin (:mod:`gtm_pipeline.twins.hubspot`) through
the official SDK, the sales team wins the held meeting's deal there, and the poll reads it back as
``deal_won``.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import resend

from gtm_pipeline.app import receiver_app
from gtm_pipeline.crm.rehearse import sync_and_win
from gtm_pipeline.domain.actors import REHEARSAL_OPERATOR
from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.domain.states import State
from gtm_pipeline.meetings.receiver import create_booking_receiver
from gtm_pipeline.outreach.local_server import serving
from gtm_pipeline.outreach.processing import InboxProcessor
from gtm_pipeline.outreach.resend_client import ResendClient
from gtm_pipeline.outreach.sender import run_sending
from gtm_pipeline.outreach.settings import SendingSettings
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.store import Store
from gtm_pipeline.store.records import ProspectRecord
from gtm_pipeline.twins.booking import Booking, BookingSender
from gtm_pipeline.twins.hubspot import HubSpotTwin
from gtm_pipeline.twins.resend_twin import BEHAVIOURS, ResendTwin, WebhookTarget

OPERATOR = REHEARSAL_OPERATOR


@dataclass
class RehearsalReport:
    """What the rehearsal did, by prospect id (no addresses)."""

    behaviours: dict[str, str] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    sends_per_touch: dict[str, int] = field(default_factory=dict)
    suppressions: int = 0
    days: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    # prospect id -> what the scheduler twins did ("calcom:booked,held"), when meetings were rehearsed
    meetings: dict[str, str] = field(default_factory=dict)
    refused_deliveries: int = 0
    # the CRM twin at the end: the companies it holds (domains) and the prospects whose deal was won
    crm_domains: list[str] = field(default_factory=list)
    won: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.meetings:
            extra = {
                "meetings": self.meetings,
                "refused_booking_deliveries": self.refused_deliveries,
                "crm_companies": self.crm_domains,
                "won": self.won,
            }
        return {
            **extra,
            "days": self.days,
            "behaviours": self.behaviours,
            "states": self.states,
            "max_sends_per_touch": max(self.sends_per_touch.values(), default=0),
            "suppressions": self.suppressions,
            "send_outcomes": dict(self.outcomes),
        }


def _first_window(start: dt.datetime, settings: SendingSettings) -> dt.datetime:
    moment = start
    while moment.weekday() >= 5 or not settings.window_start_hour <= moment.hour < settings.window_end_hour:
        moment = (moment + dt.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return moment


def rehearse(
    services: Services,
    *,
    behaviours: dict[str, str] | None = None,
    duplicates: int = 2,
    reorder: bool = True,
    start: dt.datetime | None = None,
    max_days: int = 10,
    meetings: bool = False,
) -> RehearsalReport:
    """Approve what waits for review, then send, receive and process day by day."""
    store = services.store
    settings = services.sending
    clock = ManualClock(_first_window(start or services.clock.now(), settings))
    services.clock = clock
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    report = RehearsalReport()
    store.ledger.switch_sending(
        True, actor=OPERATOR, reason="rehearsal: sending to the Resend twin", schedule="not used"
    )
    for item in store.reviews.pending():
        if item.kind == "draft":
            store.reviews.decide(
                item.id, approve=True, actor=OPERATOR, reason="rehearsal: approve all drafts"
            )
    approved = store.prospects.find(states=[State.APPROVED])
    chosen = behaviours or {p.id: BEHAVIOURS[i % len(BEHAVIOURS)] for i, p in enumerate(approved)}
    twin = ResendTwin(clock=clock)
    for prospect in approved:
        if prospect.contact_email and prospect.id in chosen:
            twin.behaviours[prospect.contact_email] = chosen[prospect.id]
            report.behaviours[prospect.id] = chosen[prospect.id]
    with twin:
        client = ResendClient(api_url=twin.url)
        saved = resend.api_key
        resend.api_key = twin.api_key
        processor = InboxProcessor(
            store,
            services.catalog,
            services.runner,
            fetch=client.received,
            response_days=services.settings.privacy.rights_response_days,
        )
        app = receiver_app(store, settings, secret, client.received)
        calcom_secret, calendly_key = secrets.token_hex(24), secrets.token_hex(24)
        if meetings:
            app.include_router(
                create_booking_receiver(
                    store, calcom_secret=calcom_secret, calendly_signing_key=calendly_key, now=clock.now
                )
            )
        try:
            with serving(app) as base:
                twin.webhook = WebhookTarget(f"{base}/webhooks/resend", secret, duplicates, reorder)
                for day in range(max_days):
                    report.days = day + 1
                    for sent in run_sending(store, settings, client, clock.now()):
                        report.outcomes[sent.outcome] += 1
                    twin.flush()
                    processor.process(now=clock.now())
                    if not store.prospects.find(states=[State.APPROVED, State.SCHEDULED]):
                        break
                    clock.set(_first_window(clock.now() + dt.timedelta(days=1), settings))
                if meetings:
                    sender = BookingSender(base, calcom_secret, calendly_key, clock=clock)
                    _rehearse_meetings(store, approved, sender, clock, duplicates, report)
                    with HubSpotTwin(clock=clock) as crm:
                        held = tuple(p for p, done in report.meetings.items() if done.endswith(",held"))
                        synced = sync_and_win(
                            store, crm, console_url=services.settings.alerts.console_url, prefer=held
                        )
                    report.crm_domains, report.won = sorted(synced.crm_domains), synced.won
        finally:
            resend.api_key = saved
    for prospect in approved:
        current = store.prospects.get(prospect.id)
        report.states[prospect.id] = current.state.value if current else "missing"
    for email in twin.emails.values():
        touch = next((t["value"] for t in email.get("tags", []) if t["name"] == "touch_id"), email["id"])
        report.sends_per_touch[touch] = report.sends_per_touch.get(touch, 0) + 1
    report.suppressions = len(store.privacy.suppressions())
    return report


def _rehearse_meetings(
    store: Store,
    approved: list[ProspectRecord],
    sender: BookingSender,
    clock: ManualClock,
    duplicates: int,
    report: RehearsalReport,
) -> None:
    """Bookings on the days after the campaign: two who replied book (Cal.com, then Calendly) and
    the first meeting is held; one who never replied books from the first email, then cancels.
    Every delivery goes ``duplicates`` times (a scheduler's retry): the receiver stores it once."""
    ours = {p.id for p in approved}
    find = store.prospects.find
    replied = [p for p in find(states=[State.REPLIED]) if p.id in ours and p.contact_email]
    waiting = [p for p in find(states=[State.AWAITING_REPLY]) if p.id in ours and p.contact_email]
    clock.set(clock.now() + dt.timedelta(days=1))
    day_after = clock.now() + dt.timedelta(days=2)
    plan: list[tuple[ProspectRecord, str, tuple[str, ...]]] = []
    if replied:
        plan.append((replied[0], "calcom", ("booked",)))
    if len(replied) > 1:
        plan.append((replied[1], "calendly", ("booked",)))
    if waiting:
        plan.append((waiting[0], "calcom", ("booked", "cancelled")))
    bookings = {
        p.id: Booking(str(p.contact_email), p.contact_name or p.company_name, day_after) for p, _, _ in plan
    }

    def deliver(prospect: ProspectRecord, provider: str, kind: Any) -> None:
        for _ in range(max(1, duplicates)):
            send = sender.calcom if provider == "calcom" else sender.calendly
            if send(kind, bookings[prospect.id]).status_code >= 400:
                report.refused_deliveries += 1
        done = report.meetings.get(prospect.id)
        report.meetings[prospect.id] = f"{done},{kind}" if done else f"{provider}:{kind}"

    for prospect, provider, kinds in plan:
        for kind in kinds:
            deliver(prospect, provider, kind)
    if replied:  # the first meeting's slot passes: Cal.com says it ended
        clock.set(day_after + dt.timedelta(hours=1))
        deliver(replied[0], "calcom", "held")  # its deal is won in the CRM next (see rehearse)
