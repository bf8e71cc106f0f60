"""Stage 1: hypotheses and discovery (which prospects, and the dated signal that found them)."""
