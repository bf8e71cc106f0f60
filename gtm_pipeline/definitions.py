"""The one Dagster entry point (``workspace.yaml`` points here)."""

from pathlib import Path

import dagster as dg

from gtm_pipeline.defs.resources import GtmResource


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
        dg.Definitions(resources={"gtm": GtmResource()}),
    )
