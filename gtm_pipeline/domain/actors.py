"""Names of who acted, as the journal records them (``actor``), where code must tell them apart."""

REHEARSAL_PREFIX = "rehearsal:"
# The rehearsal's stand-in for the operator: its approvals are never evidence that a skill
# earned autonomy (graduation counts the operator's own review record only).
REHEARSAL_OPERATOR = REHEARSAL_PREFIX + "operator"


def is_rehearsal(actor: str | None) -> bool:
    return bool(actor) and str(actor).startswith(REHEARSAL_PREFIX)
