"""Configuration: one typed settings object, read from the workspace's ``gtm.toml``, the
environment and the secrets file (see :mod:`gtm_pipeline.config.loading`)."""

from gtm_pipeline.config.loading import STARTER, WORKSPACE_FILE, find_workspace, load_settings
from gtm_pipeline.config.settings import Origin, ResolvedPaths, Settings, SettingsError

__all__ = [
    "STARTER",
    "WORKSPACE_FILE",
    "Origin",
    "ResolvedPaths",
    "Settings",
    "SettingsError",
    "find_workspace",
    "load_settings",
]
