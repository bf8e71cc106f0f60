"""What the definitions are built from, loaded once at definition load.

Loading validates the settings and every SKILL.md, GROUP.md and hypothesis file, so a broken
file fails ``dg check defs`` with the file and field named, not a run hours later.
"""

import hashlib
from functools import cache

from gtm_pipeline.config import Settings, load_settings
from gtm_pipeline.domain.hypothesis import Hypothesis
from gtm_pipeline.pipeline.hypotheses import load_hypotheses
from gtm_pipeline.skills.catalog import SkillCatalog, load_catalog


@cache
def location_settings() -> Settings:
    """The settings of this code location's process (workspace from GTM_WORKSPACE or the cwd)."""
    return load_settings()


@cache
def skill_catalog() -> SkillCatalog:
    return load_catalog(location_settings().paths.skills)


@cache
def hypotheses() -> dict[str, Hypothesis]:
    return load_hypotheses(location_settings().paths.hypotheses)


def rubrics_version() -> str:
    """One hash over every hypothesis: a changed rubric makes profiles stale."""
    digest = hashlib.sha256(
        "".join(f"{s}:{h.content_hash}" for s, h in sorted(hypotheses().items())).encode()
    )
    return digest.hexdigest()[:8]
