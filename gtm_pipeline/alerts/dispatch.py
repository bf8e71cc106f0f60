"""One dispatch pass: every new escalation posted once per channel, and nothing else.

1. Queue: a pending row per open escalation not yet queued on a channel (muted kinds excepted), and
   a ``resolved`` row per acknowledged escalation whose alert went out (when configured).
2. Close: a row still waiting for an escalation acknowledged meanwhile is closed, not posted.
3. Claim and post, oldest first: a row is claimed with one conditional UPDATE (a ``raised`` one only
   while its escalation is open), so of two passes at once (the sensor beside ``gtm alerts send``)
   one posts it; the outcome is written back compare-and-set on the claim.
4. A failure is never silent and never blocks: it stays on the row (requests, error, when to try
   again; given up after ``alerts.max_attempts`` requests or at once when retrying cannot help) and
   raises an ``alert_failed`` escalation (once a day per channel), which the console and ``gtm
   status`` show and the other channel, if any, posts. The pass goes on with the next row.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gtm_pipeline.alerts.channels import MAX_TRIES, MAX_WAIT_S, Channel, PostFailed
from gtm_pipeline.alerts.message import compose
from gtm_pipeline.config.alerts import AlertSettings
from gtm_pipeline.store import Store
from gtm_pipeline.store.alert_deliveries import Delivery
from gtm_pipeline.store.claims import claimer

RETRY_FLOOR = dt.timedelta(minutes=1)
RETRY_CEILING = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed message (ids and words only: it is printed and logged)."""

    delivery_id: int
    escalation_id: int
    kind: str
    channel: str
    message: str
    status: str  # sent | failed | gave_up | lost (another pass took it over meanwhile)
    detail: str = ""


@dataclass
class PassReport:
    queued: int = 0
    closed: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    stopped_early: bool = False  # the time budget ran out: the rest waits for the next pass

    def counts(self) -> dict[str, int]:
        return dict(Counter(o.status for o in self.outcomes))

    def summary(self) -> str:
        counts = self.counts()
        statuses = ("sent", "failed", "gave_up", "lost")
        parts = [f"{counts.get(s, 0)} {s}" for s in statuses if counts.get(s)]
        text = f"alerts: {', '.join(parts) or 'nothing to post'}; {self.closed} closed (acknowledged first)"
        return text + ("; time budget spent, the rest waits" if self.stopped_early else "")


UNEXPECTED_RETRY = dt.timedelta(minutes=5)


def _retry_at(
    now: dt.datetime, failure: PostFailed, attempts: int, settings: AlertSettings
) -> dt.datetime | None:
    """When to try a failed message again, or None to give it up."""
    if not failure.transient or attempts >= settings.max_attempts:
        return None
    backoff = min(RETRY_CEILING, RETRY_FLOOR * 2 ** max(0, attempts // 3 - 1))
    asked = dt.timedelta(seconds=failure.retry_after_s or 0)
    return now + max(backoff, asked)


def dispatch(
    store: Store,
    channels: Sequence[Channel],
    settings: AlertSettings,
    *,
    budget_s: float | None = None,
    max_wait_s: float = MAX_WAIT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> PassReport:
    """One pass over the configured ``channels`` (see the module's docstring). ``budget_s``: a
    message is started only if even its slowest outcome (every try timing out, every wait taken,
    at most ``max_wait_s`` per message) ends within the budget - the first one always is."""
    report = PassReport()
    if not channels:
        return report
    by_name = {c.name: c for c in channels}
    deliveries = store.escalations.deliveries
    report.queued = deliveries.enqueue(
        list(by_name), mute=tuple(settings.mute), resolved=settings.resolved, limit=settings.max_per_pass
    )
    report.closed = deliveries.close_acknowledged()
    me, started = claimer(), time.monotonic()
    for listed in deliveries.due(list(by_name), limit=settings.max_per_pass):
        channel = by_name[listed.channel]
        slowest = MAX_TRIES * channel.timeout_s + max_wait_s
        if budget_s is not None and report.outcomes and time.monotonic() - started + slowest > budget_s:
            report.stopped_early = True
            break
        claimed = deliveries.claim(listed.id, me)
        if claimed is None:
            continue  # another pass holds it, or it was settled or acknowledged meanwhile
        try:
            report.outcomes.append(_post(store, channel, claimed, me, settings, max_wait_s, sleep))
        except Exception as exc:  # a bug or an answer nobody foresaw: said on the row, the pass goes on
            report.outcomes.append(_unexpected(store, channel, claimed, me, exc))
    return report


def _unexpected(store: Store, channel: Channel, delivery: Delivery, me: str, exc: Exception) -> Outcome:
    """Record an unforeseen failure of one message (its type only: an exception's text may hold the
    webhook URL or the bot token) and try it again later, instead of leaving it claimed for a lease."""
    error = f"unexpected {type(exc).__name__}"
    retry_at = store.now() + UNEXPECTED_RETRY
    store.escalations.deliveries.mark_failed(delivery.id, me, requests=0, error=error, retry_at=retry_at)
    store.escalations.raise_(
        "alert_failed",
        f"alert_failed:{channel.name}:{store.now().date().isoformat()}",
        subject=channel.name,
        detail=f"posting escalation #{delivery.escalation_id} to {channel.name} failed: {error}; "
        f"tried again after {retry_at:%Y-%m-%d %H:%M} UTC",
    )
    return Outcome(delivery.id, delivery.escalation_id, "?", channel.name, delivery.message, "failed", error)


def _post(
    store: Store,
    channel: Channel,
    delivery: Delivery,
    me: str,
    settings: AlertSettings,
    max_wait_s: float,
    sleep: Callable[[float], None],
) -> Outcome:
    deliveries = store.escalations.deliveries
    escalation = store.escalations.get(delivery.escalation_id)
    if escalation is None:  # cannot happen while the foreign key holds; recorded, not skipped
        deliveries.mark_failed(delivery.id, me, requests=0, error="escalation not found", retry_at=None)
        return Outcome(delivery.id, delivery.escalation_id, "?", channel.name, delivery.message, "gave_up")
    alert = compose(store, escalation, message=delivery.message, console_url=settings.console_url)

    def outcome(status: str, detail: str = "") -> Outcome:
        return Outcome(
            delivery.id, escalation.id, escalation.kind, channel.name, delivery.message, status, detail
        )

    try:
        requests = channel.post(alert, max_wait_s=max_wait_s, sleep=sleep)
    except PostFailed as failure:
        attempts = delivery.attempts + failure.requests
        retry_at = _retry_at(store.now(), failure, attempts, settings)
        error = f"{failure.reason}: {failure.detail}" if failure.detail else failure.reason
        if not deliveries.mark_failed(
            delivery.id, me, requests=failure.requests, error=error, retry_at=retry_at
        ):
            return outcome("lost", "another pass took this message over")
        then = f"tried again after {retry_at:%Y-%m-%d %H:%M} UTC" if retry_at else "given up"
        store.escalations.raise_(
            "alert_failed",
            f"alert_failed:{channel.name}:{store.now().date().isoformat()}",
            subject=channel.name,
            detail=f"{channel.name} did not take the alert for escalation #{escalation.id}: {error} "
            f"({attempts} request(s)); {then}. `gtm alerts test` checks the channel",
        )
        return outcome("failed" if retry_at else "gave_up", error)
    if not deliveries.mark_sent(delivery.id, me, requests=requests):
        return outcome("lost", "posted, but another pass had taken this message over")
    return outcome("sent")
