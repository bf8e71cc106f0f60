"""Stage 4: the audit trail: journal anchors, the time rules, failed runs as escalations."""
