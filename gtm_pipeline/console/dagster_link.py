"""Where the Dagster UI of this instance is running, so the console's links follow it.

``gtm ui`` records its address under ``$DAGSTER_HOME`` while it runs and removes it when it
stops; the console reads it on every page (one small file), so starting ``gtm ui --port 3100``
after ``gtm serve`` still gives working links. A configured ``console.dagster_url`` wins.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from gtm_pipeline.config import Settings

DEFAULT_URL = "http://127.0.0.1:3000"
_FILE = "gtm-ui.json"


def record(dagster_home: Path, url: str) -> Path:
    path = dagster_home / _FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"url": url, "pid": os.getpid()}))
    return path


def clear(dagster_home: Path) -> None:
    (dagster_home / _FILE).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def url(settings: Settings) -> str:
    """The configured URL, else the running ``gtm ui``'s, else the default port."""
    if settings.console.dagster_url:
        return settings.console.dagster_url.rstrip("/")
    path = settings.paths.dagster_home / _FILE
    try:
        data = json.loads(path.read_text())
        if _alive(int(data["pid"])):
            return str(data["url"]).rstrip("/")
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return DEFAULT_URL
