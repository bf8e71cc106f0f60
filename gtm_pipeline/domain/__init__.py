"""Pure domain layer: ids, contracts, states, hypotheses. No I/O, no Dagster."""
