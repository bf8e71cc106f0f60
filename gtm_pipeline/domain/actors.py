"""Names of who acted, as the journal records them (``actor``), where code must tell them apart."""

REHEARSAL_PREFIX = "rehearsal:"
# The rehearsal's stand-in for the operator: its approvals are never evidence that a skill
# earned autonomy (graduation counts the operator's own review record only).
REHEARSAL_OPERATOR = REHEARSAL_PREFIX + "operator"
# What rehearsals journaled as before they ran on a copy: stores from then still hold these.
LEGACY_REHEARSAL_OPERATOR = "operator:rehearsal"
