"""Names of Dagster definitions that code outside ``defs/`` refers to (the CLI starts and stops
the send schedule by name), kept here so naming one does not load the whole code location."""

from collections.abc import Mapping

SEND_SCHEDULE = "send_every_15_minutes"
# A run tag: the calls of ``batch: true`` skill groups are queued for the providers' batch APIs at
# half price instead of made (``defs/batches.py``); backfills and re-scores that can wait set it.
BATCH_TAG = "gtm/batch"


def batch_requested(tags: Mapping[str, str]) -> bool:
    """Whether a run asked for deferred calls (``gtm/batch`` set to 1, true or yes)."""
    return str(tags.get(BATCH_TAG, "")).strip().lower() in ("1", "true", "yes")
