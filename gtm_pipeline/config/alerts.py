"""The ``[alerts]`` section: where escalations are posted (Slack, Telegram) and how.

Kept in its own module, with nothing of the project imported, so the settings model
(:mod:`gtm_pipeline.config.model`) can hold it as a table of ``gtm.toml`` without an import cycle.
The channels' keys are secrets (``GTM_SLACK_WEBHOOK_URL``, ``GTM_TELEGRAM_BOT_TOKEN``): they come
from the environment or the secrets file only, like every other key, never from ``gtm.toml``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _setting(default: Any, env: str, doc: str, *, csv: bool = False) -> Any:
    """A field as :func:`gtm_pipeline.config.model.setting` makes one (its variable, its doc line)."""
    extra: dict[str, Any] = {"env": [env]}
    if csv:
        extra["csv"] = True
    return Field(default=default, description=doc, json_schema_extra=extra)


class AlertSettings(BaseModel):
    """Escalations on a channel: each new one posted once, with a link to the console."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    console_url: str = _setting(
        "http://127.0.0.1:8025",
        "GTM_CONSOLE_URL",
        "The console's address as the operator opens it (the link in every alert).",
    )
    telegram_chat_id: str | None = _setting(
        None,
        "GTM_TELEGRAM_CHAT_ID",
        "The Telegram chat alerts go to (with GTM_TELEGRAM_BOT_TOKEN). Unset: no Telegram.",
    )
    telegram_api_url: str = _setting(
        "https://api.telegram.org", "GTM_TELEGRAM_API_URL", "The Telegram Bot API's address."
    )
    resolved: bool = _setting(
        True, "GTM_ALERTS_RESOLVED", "Also post when an operator acknowledges an escalation that was posted."
    )
    mute: list[str] = _setting(
        [], "GTM_ALERTS_MUTE", "Escalation kinds never posted (the console still shows them).", csv=True
    )
    max_per_pass: int = _setting(
        20, "GTM_ALERTS_MAX_PER_PASS", "Messages one pass posts at most (the rest wait for the next)."
    )
    max_attempts: int = _setting(
        9,
        "GTM_ALERTS_MAX_ATTEMPTS",
        "Requests for one message before it is given up (a pass makes up to 3; a failure is escalated).",
    )
    timeout_s: float = _setting(10.0, "GTM_ALERTS_TIMEOUT_S", "Seconds one request to a channel may take.")

    @field_validator("console_url", "telegram_api_url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("an http:// or https:// address")
        return value.rstrip("/")

    @field_validator("max_per_pass", "max_attempts")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("at least 1")
        return value
