"""Load ``hypotheses/<slug>.md`` files (front matter + prose) into :class:`Hypothesis`."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from gtm_pipeline.domain.frontmatter import FrontMatterError, split_front_matter
from gtm_pipeline.domain.hypothesis import Hypothesis


class HypothesisFileError(ValueError):
    """A hypothesis file that cannot be used, with the file and field named."""


def load_hypothesis(path: Path) -> Hypothesis:
    try:
        data, body = split_front_matter(path.read_text(encoding="utf-8"))
    except FrontMatterError as exc:
        raise HypothesisFileError(f"{path}: {exc}") from exc
    data.setdefault("slug", path.stem)
    if data["slug"] != path.stem:
        raise HypothesisFileError(f"{path}: slug: {data['slug']!r} does not match the file name")
    try:
        return Hypothesis.model_validate({**data, "body": body})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise HypothesisFileError(f"{path}: {field}: {first['msg']}") from exc


def load_hypotheses(folder: Path) -> dict[str, Hypothesis]:
    """Every hypothesis in ``folder``, by slug (files starting with ``_`` are ignored)."""
    if not folder.is_dir():
        raise HypothesisFileError(f"{folder}: hypotheses folder does not exist")
    found = {}
    for path in sorted(folder.glob("*.md")):
        if path.name.startswith("_") or path.name.lower() == "readme.md":
            continue
        hypothesis = load_hypothesis(path)
        found[hypothesis.slug] = hypothesis
    return found
