"""``python -m gtm_pipeline.cli``: the same as ``gtm``."""

from gtm_pipeline.cli import main

main()
