"""Dagster concurrency pools for the model families.

An asset whose skill calls a model runs in the pool of its group's first provider
(``llm_bulk``, ``llm_polish``; ``llm_offline`` for a group on the offline provider alone).
The bundled ``dagster.yaml`` gives every pool one slot, so however many runs a backfill
starts at once, one step per family talks to the provider at a time, and that step's own
rate limiter keeps it at the provider's rate: the limit holds across run processes, not only
inside one. Raise a family's slots with ``dagster instance concurrency set llm_bulk N``
together with its ``rps``.
"""

from gtm_pipeline.defs.location import skill_catalog


def pool_for(skill: str) -> str:
    chain = skill_catalog().skill(skill).group.spec.providers
    return f"llm_{chain[0]}"
