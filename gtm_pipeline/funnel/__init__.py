"""The funnel to the money: discovered → qualified → sent → replied → positive → meeting → won,
per hypothesis, drafting skill version and signal kind, with rates and their confidence intervals;
and the outcome records (meetings and wins of the prospects a skill version touched) graduation
reads. Computed with DuckDB over a read-only snapshot of the store; nothing is written back.
"""

from gtm_pipeline.funnel.compute import (
    DIMENSIONS,
    STAGES,
    Dimension,
    FunnelData,
    FunnelRow,
    Stage,
    funnel_data,
)
from gtm_pipeline.funnel.outcomes import OutcomeRecord, outcome_blockers, skill_version_outcomes
from gtm_pipeline.funnel.report import funnel_report
from gtm_pipeline.funnel.stats import SMALL_SAMPLE, Rate, wilson

__all__ = [
    "DIMENSIONS",
    "SMALL_SAMPLE",
    "STAGES",
    "Dimension",
    "FunnelData",
    "FunnelRow",
    "OutcomeRecord",
    "Rate",
    "Stage",
    "funnel_data",
    "funnel_report",
    "outcome_blockers",
    "skill_version_outcomes",
    "wilson",
]
