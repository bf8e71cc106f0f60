"""Running a step over many prospects at once, inside one Dagster run.

LLM calls are I/O-bound: a ranged run keeps ``workers`` prospects in flight, and the
router's client-side rate limiter keeps the provider at its rate. The run's cost is then
set by the provider's rate limit, not by orchestration (see ``bench/rescore.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.pipeline.step_report import StepReport

Step = Callable[..., StepReport]


def run_many(
    step: Step,
    services: Services,
    prospect_ids: Sequence[str],
    *,
    run_id: str | None = None,
    parallel: int | None = None,
) -> Iterator[tuple[str, StepReport]]:
    """Yield ``(prospect_id, report)`` in input order; a failing prospect raises when reached."""
    count = parallel or services.settings.providers.workers  # prospects in flight per run
    if count == 1 or len(prospect_ids) <= 1:
        for pid in prospect_ids:
            yield pid, step(services, pid, run_id=run_id)
        return
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="gtm-step") as pool:
        futures = [(pid, pool.submit(step, services, pid, run_id=run_id)) for pid in prospect_ids]
        for pid, future in futures:
            yield pid, future.result()
