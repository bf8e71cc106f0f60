"""Dagster concurrency pools for the model families.

An asset whose skill calls a model runs in the pool of its group's first provider
(``llm_bulk``, ``llm_polish``; ``llm_offline`` for a group on the offline provider alone).
A pool bounds how many steps of a family run at once across every run; it does not hold the
provider's rate: the store's shared token bucket does that, across every process (runs,
sensors, the CLI), whatever the slots. The bundled ``dagster.yaml`` gives every pool a slot per
concurrent run (eight), so the runs of a backfill overlap, some starting or writing their
per-partition events while others call, and the provider is kept busy (``bench/backfill.py``:
1.10x the ideal with eight runs and slots, 1.41x before runs were submitted on threads, 1.59x
with four; ``dagster instance concurrency set llm_bulk 1`` for one).
"""

from gtm_pipeline.defs.location import skill_catalog


def pool_for(skill: str) -> str:
    chain = skill_catalog().skill(skill).group.spec.providers
    return f"llm_{chain[0]}"
