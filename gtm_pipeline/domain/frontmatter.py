"""YAML front matter of the project's markdown files (skills, groups, hypotheses)."""

from __future__ import annotations

from typing import Any

import yaml


class FrontMatterError(ValueError):
    """A markdown file whose front matter is missing or is not a YAML mapping."""


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Return ``(front_matter, body)`` of a document that starts with a ``---`` block."""
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise FrontMatterError("no front matter: the file must start with a line '---'")
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            raw = "".join(lines[1:index])
            body = "".join(lines[index + 1 :]).strip()
            try:
                data = yaml.safe_load(raw) if raw.strip() else {}
            except yaml.YAMLError as exc:
                raise FrontMatterError(f"front matter is not valid YAML: {exc}") from exc
            if not isinstance(data, dict):
                raise FrontMatterError("front matter must be a YAML mapping")
            return data, body
    raise FrontMatterError("front matter is not closed by a line '---'")
