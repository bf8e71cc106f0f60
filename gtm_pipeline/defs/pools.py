"""Dagster concurrency pools for the model families.

An asset whose skill calls a model runs in the pool of its group's first provider
(``llm_bulk``, ``llm_polish``; ``llm_offline`` for a group on the offline provider alone).
A pool bounds how many steps of a family run at once across every run; it does not hold the
provider's rate: the store's shared token bucket does that, across every process (runs,
sensors, the CLI), whatever the slots. The bundled ``dagster.yaml`` gives every pool four slots,
one per concurrent run, so the runs of a backfill overlap, one starting or writing its
per-partition events while another calls, and the provider is kept busy (``bench/backfill.py``:
2.1x the ideal with four, 2.4x with one; ``dagster instance concurrency set llm_bulk 1`` for one).
"""

from gtm_pipeline.defs.location import skill_catalog


def pool_for(skill: str) -> str:
    chain = skill_catalog().skill(skill).group.spec.providers
    return f"llm_{chain[0]}"
