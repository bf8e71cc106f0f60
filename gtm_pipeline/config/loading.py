"""Loading the settings: the workspace file, then the environment, then the secrets file.

This module is the only reader of configuration in the project (a test scans for any other
read of the environment). Precedence, highest first:

* the environment (the names in :mod:`gtm_pipeline.config.model`, as the README lists them);
* ``gtm.toml`` in the workspace (found from the current folder upwards, or ``--workspace`` /
  ``GTM_WORKSPACE``), parsed by pydantic-settings' TOML source;
* the defaults of the model.

Secrets come from the environment or the secrets file (``KEY=value`` lines, mode 0600), never
from ``gtm.toml``. A bad value stops loading with one line that names where it came from, the
key and why. Outside a workspace the demo defaults apply: state in ``./data``, the bundled
skills, hypothesis and sample corpus.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from pydantic import ValidationError
from pydantic_settings import BaseSettings, TomlConfigSettingsSource
from sqlalchemy.engine import make_url

from gtm_pipeline.config.model import Secrets, SettingsModel, env_names, leaf_info
from gtm_pipeline.config.settings import Origin, ResolvedPaths, Settings, SettingsError

WORKSPACE_FILE = "gtm.toml"
SECRETS_FILE = "secrets.env"
STARTER = Path(__file__).resolve().parent.parent / "starter"
_LEAVES = env_names(SettingsModel)
_SECRET_LEAVES = {path: names for path, names in _LEAVES.items() if path[0] == "secrets"}
_SECRET_WORDS = ("api_key", "password", "secret", "token")


class _TomlFile(BaseSettings):
    """Only here to give pydantic-settings' TOML source a settings class to read for."""


def find_workspace(start: Path, explicit: str | Path | None = None) -> Path | None:
    """The workspace folder: the explicit one, else the nearest folder holding ``gtm.toml``."""
    if explicit:
        folder = Path(explicit).expanduser().resolve()
        if not (folder / WORKSPACE_FILE).is_file():
            raise SettingsError(f"{folder}: no {WORKSPACE_FILE} here (create one with `gtm init {folder}`)")
        return folder
    for folder in (start.resolve(), *start.resolve().parents):
        if (folder / WORKSPACE_FILE).is_file():
            return folder
    return None


def load_settings(
    workspace: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """The effective settings for a command, an app or a Dagster code location."""
    env = os.environ if environ is None else environ
    here = (cwd or Path.cwd()).resolve()
    root = find_workspace(here, workspace or env.get("GTM_WORKSPACE") or None)
    origins: dict[tuple[str, ...], Origin] = {}
    layers: list[tuple[dict[str, Any], str]] = []
    if root is not None:
        layers.append((_toml_layer(root / WORKSPACE_FILE), "file"))
    layers.append((_env_layer(env), "env"))
    merged: dict[str, Any] = {}
    for layer, _kind in layers:
        _deep_merge(merged, layer)
    for path in _LEAVES:
        origins[path] = Origin("default")
    for layer, kind in layers:
        for path, detail in _leaf_paths(layer):
            origins[path] = Origin(kind, detail)

    secrets_path = _secrets_path(merged, root, here)
    secret_values, secret_origins = _secret_layer(env, secrets_path)
    merged["secrets"] = secret_values
    origins.update(secret_origins)
    try:
        model = SettingsModel.model_validate(_strip_details(merged))
    except ValidationError as exc:
        raise SettingsError(_one_line(exc, origins, root)) from None
    return Settings(
        workspace=root,
        model=model,
        paths=_resolve_paths(model, origins, root, here, secrets_path),
        origins=origins,
    )


# ---------------------------------------------------------------- layers


def _toml_layer(path: Path) -> dict[str, Any]:
    try:
        data = TomlConfigSettingsSource(_TomlFile, toml_file=path).toml_data
    except Exception as exc:  # tomllib's TOMLDecodeError, an unreadable file
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    for table, values in data.items():
        if table == "secrets":
            raise SettingsError(
                f"{path}: [secrets]: secrets never go in {WORKSPACE_FILE} (it is meant to be committed); "
                f"set them in the environment or in {SECRETS_FILE}"
            )
        for key in _walk_keys(values):
            if any(word in key[-1].lower() for word in _SECRET_WORDS):
                raise SettingsError(
                    f"{path}: {'.'.join((table, *key))}: secrets never go in {WORKSPACE_FILE}; "
                    f"set them in the environment or in {SECRETS_FILE}"
                )
    url = (data.get("paths") or {}).get("database_url")
    if isinstance(url, str) and url and _has_password(url):
        raise SettingsError(
            f"{path}: paths.database_url: carries a password, and {WORKSPACE_FILE} is meant to be "
            "committed; set GTM_DATABASE_URL in the environment (or use ~/.pgpass)"
        )
    return {table: _tag(_unset_empty(values, (table,)), str(path)) for table, values in data.items()}


def _has_password(url: str) -> bool:
    try:
        return make_url(url).password is not None
    except Exception:  # not a URL: the model's validation names it
        return False


def _unset_empty(values: Any, prefix: tuple[str, ...]) -> Any:
    """``key = ""`` for a setting that may be unset means unset (its default applies)."""
    if not isinstance(values, dict):
        return values
    out = {}
    for key, value in values.items():
        path = (*prefix, str(key))
        if isinstance(value, dict):
            out[key] = _unset_empty(value, path)
        elif value == "" and path in _LEAVES and _optional(path):
            continue
        else:
            out[key] = value
    return out


def _optional(path: tuple[str, ...]) -> bool:
    return leaf_info(path).default is None


def _walk_keys(values: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if not isinstance(values, dict):
        return [prefix] if prefix else []
    keys: list[tuple[str, ...]] = []
    for key, value in values.items():
        keys += _walk_keys(value, (*prefix, str(key))) or [(*prefix, str(key))]
    return keys


class _Tagged:
    """A value with where it came from (stripped before validation)."""

    __slots__ = ("detail", "value")

    def __init__(self, value: Any, detail: str) -> None:
        self.value = value
        self.detail = detail


def _tag(values: Any, detail: str) -> Any:
    if isinstance(values, dict):
        return {k: _tag(v, detail) for k, v in values.items()}
    return _Tagged(values, detail)


def _env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for path, names in _LEAVES.items():
        if path[0] == "secrets":
            continue
        for name in names:
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            extra = leaf_info(path).json_schema_extra or {}
            value: Any = raw
            if extra.get("csv"):
                value = [part.strip() for part in raw.split(",") if part.strip()]
            elif extra.get("lines"):
                value = raw.replace("\\n", "\n")
            _set(layer, path, _Tagged(value, name))
            break
    return layer


def _secrets_path(merged: dict[str, Any], root: Path | None, here: Path) -> Path | None:
    configured = (merged.get("paths") or {}).get("secrets_file")
    if isinstance(configured, _Tagged) and configured.value:
        base = root if configured.detail.endswith(WORKSPACE_FILE) and root else here
        return (base / str(configured.value)).resolve()
    return (root / SECRETS_FILE) if root is not None else None


def _secret_layer(
    env: Mapping[str, str], path: Path | None
) -> tuple[dict[str, Any], dict[tuple[str, ...], Origin]]:
    from_file: dict[str, str] = {}
    if path is not None and path.is_file():
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SettingsError(f"{path}: readable by other users; run `chmod 600 {path}`")
        known = {name for names in _SECRET_LEAVES.values() for name in names}
        others = {name for path_, names in _LEAVES.items() if path_[0] != "secrets" for name in names}
        for key, value in dotenv_values(path).items():
            if key in others:
                raise SettingsError(f"{path}: {key} is not a secret: put it in {WORKSPACE_FILE}")
            if key not in known:
                raise SettingsError(
                    f"{path}: {key}: not a secret this project reads ({', '.join(sorted(known))})"
                )
            if value:
                from_file[key] = value
    values: dict[str, Any] = {}
    origins: dict[tuple[str, ...], Origin] = {}
    for leaf, names in _SECRET_LEAVES.items():
        found = next(((n, env[n], "env") for n in names if env.get(n)), None) or next(
            ((n, from_file[n], "secrets file") for n in names if from_file.get(n)), None
        )
        if found is not None:
            name, value, kind = found
            values[leaf[1]] = value
            origins[leaf] = Origin(kind, name)
    return values, origins


# ---------------------------------------------------------------- merging and errors


def _set(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value


def _deep_merge(target: dict[str, Any], layer: dict[str, Any]) -> None:
    for key, value in layer.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = value


def _leaf_paths(layer: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    found = []
    for key, value in layer.items():
        if isinstance(value, dict):
            found += _leaf_paths(value, (*prefix, key))
        elif isinstance(value, _Tagged):
            found.append(((*prefix, key), value.detail))
    return found


def _strip_details(values: Any) -> Any:
    if isinstance(values, dict):
        return {k: _strip_details(v) for k, v in values.items()}
    return values.value if isinstance(values, _Tagged) else values


def _one_line(exc: ValidationError, origins: dict[tuple[str, ...], Origin], root: Path | None) -> str:
    error = exc.errors()[0]
    loc = tuple(str(part) for part in error["loc"])
    origin = origins.get(loc)
    where = origin.detail if origin and origin.detail else str(root / WORKSPACE_FILE) if root else "settings"
    key = ".".join(loc)
    if error["type"] == "extra_forbidden":
        return f"{where}: {key}: unknown setting (`gtm config show` lists them)"
    shown = error.get("input")
    return f"{where}: {key}: {error['msg']} (got {shown!r})"


# ---------------------------------------------------------------- paths


def _resolve_paths(
    model: SettingsModel,
    origins: dict[tuple[str, ...], Origin],
    root: Path | None,
    here: Path,
    secrets_path: Path | None,
) -> ResolvedPaths:
    base = root or here

    def given(name: str) -> Path | None:
        value = getattr(model.paths, name)
        if not value:
            return None
        origin = origins[("paths", name)]
        anchor = root if origin.kind == "file" and root is not None else here
        return (anchor / Path(value).expanduser()).resolve()

    home = given("home") or (base / "data").resolve()
    skills = given("skills")
    hypotheses = given("hypotheses")
    return ResolvedPaths(
        home=home,
        database_url=model.paths.database_url or f"sqlite:///{home / 'gtm.sqlite'}",
        dagster_home=given("dagster_home") or home / "dagster",
        skills=skills or (root / "skills" if root else STARTER / "skills"),
        hypotheses=hypotheses or (root / "hypotheses" if root else STARTER / "hypotheses"),
        corpus=given("corpus") or STARTER / "corpus",
        accounts=given("accounts") or home / "accounts.csv",
        prices=given("prices") or STARTER / "models.yaml",
        secrets_file=secrets_path,
        starter=STARTER,
        skills_editable=skills is not None or root is not None,
    )


def secret_env_names() -> dict[str, list[str]]:
    """Each secret's environment variable names (the first is the one written and exported)."""
    return {field: list(_SECRET_LEAVES[("secrets", field)]) for field in Secrets.model_fields}
