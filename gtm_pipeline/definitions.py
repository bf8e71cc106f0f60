"""The one Dagster entry point (``workspace.yaml`` and ``gtm ui`` point here)."""

from pathlib import Path

import dagster as dg

from gtm_pipeline.defs.location import location_settings
from gtm_pipeline.defs.resources import resources_for


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
        dg.Definitions(resources=resources_for(location_settings())),
    )
