"""The ``[meetings]`` section: the operator's booking link and which scheduler sends bookings back.

Kept in its own module, with nothing of the project imported, like :mod:`gtm_pipeline.config.alerts`,
so the settings model can hold it as a table of ``gtm.toml`` without an import cycle. The webhook
secrets (``GTM_CALCOM_WEBHOOK_SECRET``, ``GTM_CALENDLY_WEBHOOK_SIGNING_KEY``) are secrets: they come
from the environment or the secrets file only, never from ``gtm.toml``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from gtm_pipeline.config.fields import setting

Provider = Literal["calcom", "calendly"]
# Calendly signs a timestamp with the body; a delivery older than this (or this far ahead) is a
# replay or a clock gone wrong. Three minutes is what Calendly's own guidance uses.
CALENDLY_TOLERANCE_S = 180


class MeetingSettings(BaseModel):
    """Where prospects book a meeting, and how the scheduler's webhooks are checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Provider | None = setting(
        None,
        "GTM_MEETINGS_PROVIDER",
        doc="The scheduler the booking link belongs to (calcom or calendly). Unset: no booking link.",
    )
    booking_url: str | None = setting(
        None,
        "GTM_BOOKING_URL",
        doc="The operator's booking page (https://cal.com/... or "
        "https://calendly.com/...), offered in drafts.",
    )
    calendly_tolerance_s: int = setting(
        CALENDLY_TOLERANCE_S,
        "GTM_CALENDLY_TOLERANCE_S",
        doc="Seconds a Calendly webhook's signed timestamp may be off "
        "from now (older is refused as a replay).",
    )

    @field_validator("booking_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith("https://") or any(ch.isspace() for ch in value):
            raise ValueError("an https:// address without spaces")
        return value.rstrip("/")

    @field_validator("calendly_tolerance_s")
    @classmethod
    def _positive(cls, value: int) -> int:
        if not 1 <= value <= 3600:
            raise ValueError("between 1 and 3600 seconds")
        return value

    @property
    def link(self) -> str | None:
        """The booking link a draft may carry: only when the scheduler is named too."""
        return self.booking_url if self.provider is not None else None
