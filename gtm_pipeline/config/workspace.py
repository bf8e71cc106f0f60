"""``gtm init``: a workspace folder an operator owns, and ``gtm config show``.

A workspace is a folder with ``gtm.toml`` (every setting, commented, generated from the settings
model so it never drifts from what the code reads), editable copies of the starter skills and
hypotheses, a ``secrets.env`` for keys (mode 0600, git-ignored) and ``data/`` for local state.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy.engine import make_url

from gtm_pipeline.config.loading import SECRETS_FILE, STARTER, WORKSPACE_FILE
from gtm_pipeline.config.model import Secrets, SettingsModel, env_names
from gtm_pipeline.config.settings import Settings, SettingsError

_HEADER = """\
# gtm.toml: this workspace's settings. `gtm` finds it from the current folder or any folder above.
# Every key shows its default; the environment variable beside it overrides it.
# Secrets (API keys, the webhook secret, the operator's password) never go here: put them in the
# environment or in secrets.env (KEY=value lines, chmod 600; git-ignored).
# `gtm config show` prints the effective values and where each came from.
"""

_SECTION_DOCS = {
    "paths": "Where things live. Relative paths are relative to this folder.",
    "sender": "Who writes, and the notice every first touch carries.",
    "sending": "How much, when, and when sending halts on its own.",
    "providers": (
        "Model providers. Each skill group's GROUP.md orders its chain (bulk, polish, offline);\n"
        "a family joins a chain once its key is set (GTM_BULK_API_KEY, ANTHROPIC_API_KEY)."
    ),
    "privacy": "Retention and the rights of the people in the data (DPDP Act and Rules).",
    "console": "The operator and the console.",
}

# Values written into a new workspace where they differ from the demo defaults.
_WORKSPACE_VALUES: dict[tuple[str, ...], Any] = {
    ("paths", "skills"): "skills",
    ("paths", "hypotheses"): "hypotheses",
}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value)
    if "\n" in text:
        return '"""\n' + text.replace("\\", "\\\\").replace('"""', '\\"""') + '"""'
    return json.dumps(text)


def _table(model: type[BaseModel], instance: BaseModel, prefix: tuple[str, ...]) -> list[str]:
    lines: list[str] = []
    nested: list[tuple[str, type[BaseModel], BaseModel]] = []
    names = env_names(SettingsModel)
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            nested.append((name, annotation, getattr(instance, name)))
            continue
        path = (*prefix, name)
        env = " / ".join(names.get(path, []))
        lines.append(f"# {info.description}" + (f"  [{env}]" if env else ""))
        value = _WORKSPACE_VALUES.get(path, getattr(instance, name))
        if value is None:
            lines.append(f'# {name} = ""')
        else:
            lines.append(f"{name} = {_toml_value(value)}")
    for name, sub_model, sub_instance in nested:
        doc = sub_model.__doc__.strip().splitlines()[0] if sub_model.__doc__ else ""
        lines += [
            "",
            f"# {doc}",
            f"[{'.'.join((*prefix, name))}]",
            *_table(sub_model, sub_instance, (*prefix, name)),
        ]
    return lines


def render_workspace_file() -> str:
    """The commented ``gtm.toml`` of a new workspace, from the settings model."""
    defaults = SettingsModel()
    out = [_HEADER]
    for section, info in SettingsModel.model_fields.items():
        if section == "secrets":
            continue
        annotation = info.annotation
        assert isinstance(annotation, type) and issubclass(annotation, BaseModel)
        doc = _SECTION_DOCS.get(section, "")
        out += [*(f"# {line}" for line in doc.splitlines()), f"[{section}]"]
        out += _table(annotation, getattr(defaults, section), (section,))
        out.append("")
    return "\n".join(out)


def render_secrets_file() -> str:
    lines = [
        "# secrets.env: keys and passwords for this workspace (KEY=value; the environment wins).",
        "# Keep it out of version control and readable only by you (chmod 600).",
    ]
    for name, info in Secrets.model_fields.items():
        env = env_names(SettingsModel)[("secrets", name)]
        lines.append(f"# {info.description}")
        lines.append(f"# {env[0]}=")
    return "\n".join(lines) + "\n"


def init_workspace(folder: Path) -> list[Path]:
    """Create a workspace in ``folder`` (new or empty of gtm files); returns what was written."""
    folder = folder.expanduser().resolve()
    if (folder / WORKSPACE_FILE).exists():
        raise SettingsError(f"{folder / WORKSPACE_FILE} exists already: this folder is a workspace")
    for name in ("skills", "hypotheses"):
        if (folder / name).exists():
            raise SettingsError(f"{folder / name} exists: move it aside or init another folder")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ("skills", "hypotheses"):
        shutil.copytree(STARTER / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        written.append(folder / name)
    (folder / WORKSPACE_FILE).write_text(render_workspace_file(), encoding="utf-8")
    written.append(folder / WORKSPACE_FILE)
    secrets = folder / SECRETS_FILE
    if not secrets.exists():
        secrets.write_text(render_secrets_file(), encoding="utf-8")
        secrets.chmod(0o600)
        written.append(secrets)
    ignore = folder / ".gitignore"
    wanted = ["/data/", f"/{SECRETS_FILE}"]
    present = ignore.read_text().splitlines() if ignore.exists() else []
    missing = [line for line in wanted if line not in present]
    if missing:
        with ignore.open("a", encoding="utf-8") as handle:
            handle.write("\n".join(missing) + "\n")
        written.append(ignore)
    return written


def describe(settings: Settings) -> list[tuple[str, str, str]]:
    """(key, value, origin) of every setting, secrets redacted, then the resolved paths."""
    rows = []
    for path in env_names(SettingsModel):
        value: Any = settings.model
        for part in path:
            value = getattr(value, part)
        origin = settings.origins.get(path)
        label = origin.label() if origin else "default"
        if path[0] == "secrets":
            shown = "set (redacted)" if value is not None else "not set"
        elif value is None:
            shown = "-"
        elif path == ("paths", "database_url"):
            shown = make_url(str(value)).render_as_string(hide_password=True)
        else:
            shown = json.dumps(value) if isinstance(value, list | str) else str(value)
        rows.append((".".join(path), shown, label))
    resolved = settings.paths
    for name in ("home", "database_url", "dagster_home", "skills", "hypotheses", "corpus", "accounts"):
        value = str(getattr(resolved, name))
        if name == "database_url":
            value = make_url(value).render_as_string(hide_password=True)
        rows.append((f"resolved.{name}", value, "resolved"))
    return rows
