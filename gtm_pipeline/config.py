"""Where things live. One folder (``GTM_HOME``, default ``./data``) holds all local state.

The project folders (``skills/``, ``hypotheses/``, the bundled corpus in ``data/samples``)
are found next to the installed package (an editable install from the repository) unless
``GTM_PROJECT_ROOT`` says otherwise.
"""

from __future__ import annotations

import os
import secrets
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


def local_secret(home: Path, env_var: str, filename: str) -> bytes:
    """A signing key: from ``env_var`` when set, else generated once under ``GTM_HOME/secrets``.

    Generated keys stay on the machine (mode 0600) so a restart keeps links and sessions valid.
    """
    configured = os.environ.get(env_var)
    if configured:
        return configured.encode()
    path = home / "secrets" / filename
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()
