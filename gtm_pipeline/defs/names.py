"""Names of Dagster definitions that code outside ``defs/`` refers to (the CLI starts and stops
the send schedule by name), kept here so naming one does not load the whole code location."""

SEND_SCHEDULE = "send_every_15_minutes"
