"""What the definitions are built from, loaded once at definition load.

Loading validates every SKILL.md, GROUP.md and hypothesis file, so a broken file fails
``dagster definitions validate`` with the file and field named, not a run hours later.
"""

import hashlib
from functools import cache

from gtm_pipeline.config import paths
from gtm_pipeline.domain.hypothesis import Hypothesis
from gtm_pipeline.pipeline.hypotheses import load_hypotheses
from gtm_pipeline.skills.catalog import SkillCatalog, load_catalog


@cache
def skill_catalog() -> SkillCatalog:
    return load_catalog(paths().skills_dir)


@cache
def hypotheses() -> dict[str, Hypothesis]:
    return load_hypotheses(paths().hypotheses_dir)


def rubrics_version() -> str:
    """One hash over every hypothesis: a changed rubric makes profiles stale."""
    digest = hashlib.sha256(
        "".join(f"{s}:{h.content_hash}" for s, h in sorted(hypotheses().items())).encode()
    )
    return digest.hexdigest()[:8]
