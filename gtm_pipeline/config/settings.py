"""The effective settings of one process: the loaded model, its resolved paths and where each
value came from. Built by :func:`gtm_pipeline.config.loading.load_settings`, passed down from
there: no other module reads the environment or the workspace file."""

from __future__ import annotations

import os
import secrets as _random
from collections.abc import MutableMapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from gtm_pipeline.config.alerts import AlertSettings
from gtm_pipeline.config.meetings import MeetingSettings
from gtm_pipeline.config.model import (
    ConsoleSettings,
    DiscoverySettings,
    FetchSettings,
    PrivacySettings,
    ProviderSettings,
    Secrets,
    SenderSettings,
    SendingLimits,
    SettingsModel,
)


class SettingsError(ValueError):
    """A setting that cannot be used: the message is one line naming where, the key and why."""


@dataclass(frozen=True)
class Origin:
    """Where a value came from: ``default``, ``file`` (gtm.toml), ``env`` or ``secrets file``."""

    kind: str
    detail: str = ""

    def label(self) -> str:
        if self.kind == "env":
            return f"env {self.detail}"
        if self.kind == "secrets file":
            return f"secrets file ({self.detail})"
        return "gtm.toml" if self.kind == "file" else "default"


@dataclass(frozen=True)
class ResolvedPaths:
    """Every path the pipeline reads or writes, absolute."""

    home: Path
    database_url: str
    dagster_home: Path
    skills: Path
    hypotheses: Path
    corpus: Path
    accounts: Path
    prices: Path
    secrets_file: Path | None
    starter: Path
    skills_editable: bool  # False for the bundled starter skills of a demo (never moved in place)


_SIGNING_KEYS = {"console": "console_secret", "unsubscribe": "unsubscribe_secret"}


@dataclass(frozen=True)
class Settings:
    """Read-only, typed access to everything configurable."""

    workspace: Path | None
    model: SettingsModel
    paths: ResolvedPaths
    origins: dict[tuple[str, ...], Origin] = field(default_factory=dict)

    @property
    def sender(self) -> SenderSettings:
        return self.model.sender

    @property
    def sending(self) -> SendingLimits:
        return self.model.sending

    @property
    def providers(self) -> ProviderSettings:
        return self.model.providers

    @property
    def privacy(self) -> PrivacySettings:
        return self.model.privacy

    @property
    def console(self) -> ConsoleSettings:
        return self.model.console

    @property
    def fetch(self) -> FetchSettings:
        return self.model.fetch

    @property
    def discovery(self) -> DiscoverySettings:
        return self.model.discovery

    @property
    def secrets(self) -> Secrets:
        return self.model.secrets

    @property
    def alerts(self) -> AlertSettings:
        """The ``[alerts]`` section."""
        return self.model.alerts

    @property
    def meetings(self) -> MeetingSettings:
        """The ``[meetings]`` section: the booking link and the schedulers' webhooks."""
        return self.model.meetings

    def alert_secret(self, name: str) -> str | None:
        """A channel's key (``slack_webhook_url``, ``telegram_bot_token``); ``None`` when unset. Only
        the alert channels' construction asks."""
        value = getattr(self.secrets, name, None)
        return value.get_secret_value() if value is not None else None

    @property
    def demo(self) -> bool:
        """No workspace: the bundled demo defaults apply."""
        return self.workspace is None

    def secret(self, name: str) -> str | None:
        """A secret's value (``None`` when unset); only provider and client construction asks."""
        value = getattr(self.secrets, name)
        return value.get_secret_value() if value is not None else None

    def secret_env_name(self, name: str) -> str | None:
        """The environment variable a secret was read from (or should be exported under)."""
        from gtm_pipeline.config.loading import secret_env_names

        origin = self.origins.get(("secrets", name))
        if origin is None:
            return None
        return origin.detail if origin.kind == "env" else secret_env_names()[name][0]

    def origin(self, dotted: str) -> Origin:
        return self.origins.get(tuple(dotted.split(".")), Origin("default"))

    def actor(self, surface: str) -> str:
        """Who an operator decision is journaled as: ``operator:<name>``."""
        return "operator:" + (self.console.operator or surface)

    def mode_line(self) -> str:
        """What every command says first, so nobody mistakes the demo for their campaign."""
        if self.workspace is None:
            return (
                f"no gtm.toml here or above: demo defaults (state in {self.paths.home}, the bundled skills, "
                "hypothesis and sample corpus); `gtm init` makes a workspace"
            )
        return f"workspace {self.workspace} (state in {self.paths.home})"

    def signing_key(self, purpose: str) -> bytes:
        """A signing key (``console`` or ``unsubscribe``): the configured secret, else one generated
        once under ``home/secrets`` (mode 0600) so restarts keep links and sessions valid.

        Creation is atomic (written aside, then linked into place), so processes starting at
        once all end up with the same key: links signed by any of them verify in all.
        """
        configured = self.secret(_SIGNING_KEYS[purpose])
        if configured:
            return configured.encode()
        path = self.paths.home / "secrets" / f"{purpose}.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # nobody else lists it
            if path.parent.stat().st_mode & 0o077:
                path.parent.chmod(0o700)
            staging = path.with_name(f".{path.name}.{os.getpid()}.{_random.token_hex(4)}")
            descriptor = os.open(
                staging, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600
            )  # never readable by others
            with os.fdopen(descriptor, "w") as staged:
                staged.write(_random.token_hex(32))
            try:
                os.link(staging, path)  # fails if another process got there first: theirs wins
            except FileExistsError:
                pass
            finally:
                staging.unlink()
        return path.read_text().strip().encode()

    def with_home(self, home: Path) -> Settings:
        """The same settings with all local state in another folder (a rehearsal's copy): its own
        store (SQLite), Dagster instance and generated keys; the workspace's skills, hypotheses,
        corpus and accounts stay as they are."""
        home = home.resolve()
        paths = replace(
            self.paths,
            home=home,
            database_url=f"sqlite:///{home / 'gtm.sqlite'}",
            dagster_home=home / "dagster",
        )
        return replace(self, paths=paths)

    def export_secrets(self, environ: MutableMapping[str, str] | None = None) -> list[str]:
        """Put secrets read from the secrets file into the process environment under their variable
        names, for Dagster's ``EnvVar`` (which reads the environment). Returns the names exported."""
        environ = os.environ if environ is None else environ
        exported = []
        for name in Secrets.model_fields:
            value, env_name = self.secret(name), self.secret_env_name(name)
            if value and env_name and not environ.get(env_name):
                environ[env_name] = value
                exported.append(env_name)
        return exported
