"""The journal entries of a skill call that is not made now, written one way wherever it waits.

The runner (a call meets the group's daily cap, or is queued for a batch API) and the batch queue (a
queued call the cap keeps back, a call handed back to a direct call) record the same decisions:
one function each, so the entries, their dedupe keys and the operator's escalation never drift
apart between the two.
"""

from __future__ import annotations

import datetime as dt

from gtm_pipeline.store import Store

BATCH_ACTOR = "rule:batch@1"


def spend_cap_wait(
    store: Store,
    *,
    group: str,
    cap: float | None,
    subject: str,
    digest: str,
    day: dt.date,
    run_id: str | None = None,
) -> str:
    """The group's daily cap is reached: the operator is told once a day per group, the call's wait
    is journaled once a day per call. Returns the journal entry's id."""
    store.escalations.raise_(
        "spend_cap",
        f"spend_cap:{group}:{day.isoformat()}",
        subject=group,
        detail=f"group {group} reached its daily cap of ${cap}: calls wait",
    )
    return store.journal.append(
        subject=subject,
        kind="spend_cap_wait",
        actor=f"rule:spend-cap@1/{group}",
        payload={"group": group, "day": day.isoformat(), "cap_usd": cap, "input_hash": digest},
        dedupe_key=f"spendcap:{group}:{day.isoformat()}:{subject}:{digest}",
        run_id=run_id,
    )


def batch_queued(
    store: Store,
    *,
    group: str,
    provider: str,
    subject: str,
    digest: str,
    custom_id: str,
    run_id: str | None,
) -> str:
    """The call waits for its batch (queued now, or already on its way): journaled once per call."""
    return store.journal.append(
        subject=subject,
        kind="batch_queued",
        actor=f"{BATCH_ACTOR}/{group}",
        payload={"group": group, "provider": provider, "input_hash": digest, "custom_id": custom_id},
        dedupe_key=f"batchq:{custom_id}",
        run_id=run_id,
    )


def batch_direct(
    store: Store,
    *,
    group: str,
    provider: str,
    subject: str,
    custom_id: str,
    reason: str,
    run_id: str | None = None,
) -> None:
    """A queued call leaves the batch path and is called directly, at the list price: with why."""
    store.journal.append(
        subject=subject,
        kind="batch_direct",
        actor=f"{BATCH_ACTOR}/{group}",
        payload={"provider": provider, "custom_id": custom_id, "reason": reason[:300]},
        dedupe_key=f"batchdirect:{custom_id}",
        run_id=run_id,
    )
