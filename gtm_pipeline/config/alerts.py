"""The ``[alerts]`` section: where escalations are posted (Slack, Telegram) and how.

Kept in its own module, with nothing of the project imported, so the settings model
(:mod:`gtm_pipeline.config.model`) can hold it as a table of ``gtm.toml`` without an import cycle.
The channels' keys are secrets (``GTM_SLACK_WEBHOOK_URL``, ``GTM_TELEGRAM_BOT_TOKEN``): they come
from the environment or the secrets file only, like every other key, never from ``gtm.toml``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

from gtm_pipeline.config.fields import setting


class AlertSettings(BaseModel):
    """Escalations on a channel: each new one posted once, with a link to the console."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    console_url: str = setting(
        "http://127.0.0.1:8025",
        "GTM_CONSOLE_URL",
        doc="The console's address as the operator opens it (the link in every alert).",
    )
    telegram_chat_id: str | None = setting(
        None,
        "GTM_TELEGRAM_CHAT_ID",
        doc="The Telegram chat alerts go to (with GTM_TELEGRAM_BOT_TOKEN). Unset: no Telegram.",
    )
    telegram_api_url: str = setting(
        "https://api.telegram.org", "GTM_TELEGRAM_API_URL", doc="The Telegram Bot API's address."
    )
    resolved: bool = setting(
        True,
        "GTM_ALERTS_RESOLVED",
        doc="Also post when an operator acknowledges an escalation that was posted.",
    )
    mute: list[str] = setting(
        [], "GTM_ALERTS_MUTE", doc="Escalation kinds never posted (the console still shows them).", csv=True
    )
    max_per_pass: int = setting(
        20, "GTM_ALERTS_MAX_PER_PASS", doc="Messages one pass posts at most (the rest wait for the next)."
    )
    max_attempts: int = setting(
        9,
        "GTM_ALERTS_MAX_ATTEMPTS",
        doc="Requests for one message before it is given up (a pass makes up to 3; a failure is escalated).",
    )
    timeout_s: float = setting(10.0, "GTM_ALERTS_TIMEOUT_S", doc="Seconds one request to a channel may take.")

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
