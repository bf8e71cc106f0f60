"""Dagster definitions, loaded by ``gtm_pipeline.definitions`` with ``load_from_defs_folder``.

One folder per stage, in the order the data flows: ``discovery`` (hypothesis -> discovery),
``research`` (raw sources -> profile), ``outreach`` (draft, context pack -> send -> conversation)
and ``audit`` (journal anchors, time rules, failed runs). Beside them, the shared wiring: the
settings and files the location is built from (``location``), partitions and exact runs, pools,
resources, the step runner and the contract checks, and the prospect pipeline job.

Thin on purpose: every asset calls a step in ``gtm_pipeline.pipeline`` and turns its report into
metadata. Nothing here decides anything the steps do not.
"""
