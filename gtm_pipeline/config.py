"""Where things live. One folder (``GTM_HOME``, default ``./data``) holds all local state.

The project folders (``skills/``, ``hypotheses/``, the bundled corpus in ``data/samples``)
are found next to the installed package (an editable install from the repository) unless
``GTM_PROJECT_ROOT`` says otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path:
    """The repository root that holds ``skills/`` and ``hypotheses/``."""
    override = os.environ.get("GTM_PROJECT_ROOT")
    if override:
        return Path(override).resolve()
    candidate = _PACKAGE_DIR.parent
    if (candidate / "skills").is_dir():
        return candidate
    return Path.cwd().resolve()


@dataclass(frozen=True)
class Paths:
    """Every path the pipeline reads or writes, resolved once."""

    home: Path
    root: Path

    @property
    def database_url(self) -> str:
        return os.environ.get("GTM_DATABASE_URL") or f"sqlite:///{self.home / 'gtm.sqlite'}"

    @property
    def dagster_home(self) -> Path:
        return Path(os.environ.get("DAGSTER_HOME") or self.home / "dagster")

    @property
    def accounts_file(self) -> Path:
        """The operator's list of customers, open deals and partners (never contacted cold)."""
        return Path(os.environ.get("GTM_ACCOUNTS_FILE") or self.home / "accounts.csv")

    @property
    def skills_dir(self) -> Path:
        return Path(os.environ.get("GTM_SKILLS_DIR") or self.root / "skills")

    @property
    def hypotheses_dir(self) -> Path:
        return Path(os.environ.get("GTM_HYPOTHESES_DIR") or self.root / "hypotheses")

    @property
    def corpus_dir(self) -> Path:
        return Path(os.environ.get("GTM_CORPUS_DIR") or self.root / "data" / "samples" / "corpus")


def paths() -> Paths:
    """Resolve paths from the environment now (tests change it between cases)."""
    root = project_root()
    home = Path(os.environ.get("GTM_HOME") or root / "data").resolve()
    return Paths(home=home, root=root)
