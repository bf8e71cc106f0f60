"""Eval sets per skill and ``gtm eval``: a skill version earns autonomy on evidence.

``cases`` reads a skill's eval set, ``run`` runs it through the normal runner on a scratch
store, ``checks`` judges each answer, ``report`` turns the results into figures, applies the
group's bar and journals the eval under ``skill:<name>``. Graduation reads that record.
"""

from __future__ import annotations

from gtm_pipeline.evals.cases import EvalSet, EvalSetError, load_eval_set
from gtm_pipeline.evals.report import EVAL_KIND, journal_eval, latest_eval, table, verdict
from gtm_pipeline.evals.run import ProviderNotConfigured, run_eval

__all__ = [
    "EVAL_KIND",
    "EvalSet",
    "EvalSetError",
    "ProviderNotConfigured",
    "journal_eval",
    "latest_eval",
    "load_eval_set",
    "run_eval",
    "table",
    "verdict",
]
