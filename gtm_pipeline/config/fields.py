"""How a setting is declared: a pydantic field with its environment variable(s) and its doc line.

Its own module, importing nothing of the project, so every section (the core model, alerts, meetings,
the CRM) declares its fields the same way without an import cycle with :mod:`gtm_pipeline.config.model`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field


def setting(default: Any, *env: str, doc: str, lines: bool = False, csv: bool = False) -> Any:
    """A field with its environment variable(s) (first wins) and the line of documentation that
    ``gtm init`` writes above it. ``lines``: ``\\n`` in the variable is a new line; ``csv``: the
    variable is a comma-separated list."""
    extra: dict[str, Any] = {"env": list(env)}
    if lines:
        extra["lines"] = True
    if csv:
        extra["csv"] = True
    return Field(default=default, description=doc, json_schema_extra=extra)
