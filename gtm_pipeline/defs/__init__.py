"""Dagster definitions, loaded by ``gtm_pipeline.definitions`` with ``load_from_defs_folder``.

Thin on purpose: every asset calls a step in ``gtm_pipeline.pipeline`` and turns its
report into metadata. Nothing here decides anything the steps do not.
"""
