"""The ``[crm]`` section: whether and how qualified conversations reach the team's CRM.

Kept in its own module, with nothing of the project imported (like :mod:`.alerts`), so the settings
model can hold it as a table of ``gtm.toml`` without an import cycle. The HubSpot private app's
token is a secret (``GTM_HUBSPOT_TOKEN``): it comes from the environment or the secrets file only.

Off by default (``kind = "none"``): the demo and a fresh workspace need no CRM and no key.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# What can start a push: a reply of one of the classifier's positive categories, or a booking.
TRIGGERS = ("reply:interested", "reply:question", "reply:referral", "meeting_booked")


def _setting(default: Any, env: str, doc: str, *, csv: bool = False) -> Any:
    """A field as :func:`gtm_pipeline.config.model.setting` makes one (its variable, its doc line)."""
    extra: dict[str, Any] = {"env": [env]}
    if csv:
        extra["csv"] = True
    return Field(default=default, description=doc, json_schema_extra=extra)


class CrmSettings(BaseModel):
    """Companies and contacts pushed to a CRM when a conversation turns positive; deals read back."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["none", "hubspot", "csv"] = _setting(
        "none", "GTM_CRM_KIND", "Where conversations go: none (off), hubspot, or csv (files to import)."
    )
    api_url: str = _setting(
        "https://api.hubapi.com", "GTM_CRM_API_URL", "HubSpot's API address (a twin's in tests)."
    )
    csv_folder: str = _setting(
        "crm-export", "GTM_CRM_CSV_FOLDER", "The csv export's folder, under home unless absolute."
    )
    triggers: list[str] = _setting(
        list(TRIGGERS),
        "GTM_CRM_TRIGGERS",
        "What pushes a prospect: reply:interested, reply:question, reply:referral, meeting_booked.",
        csv=True,
    )
    won_stages: list[str] = _setting(
        ["closedwon"], "GTM_CRM_WON_STAGES", "Deal stages that mean the deal was won.", csv=True
    )
    lost_stages: list[str] = _setting(
        ["closedlost"], "GTM_CRM_LOST_STAGES", "Deal stages that mean the deal was lost.", csv=True
    )
    max_per_pass: int = _setting(50, "GTM_CRM_MAX_PER_PASS", "Prospects one pass pushes at most.")
    max_attempts: int = _setting(
        3, "GTM_CRM_MAX_ATTEMPTS", "Passes that may fail on one prospect before it is given up and escalated."
    )
    rate_limit_retries: int = _setting(
        4,
        "GTM_CRM_RATE_LIMIT_RETRIES",
        "Times one request waits out a 429 (its Retry-After) and tries again.",
    )
    timeout_s: float = _setting(15.0, "GTM_CRM_TIMEOUT_S", "Seconds one request to the CRM may take.")

    @field_validator("api_url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("an http:// or https:// address")
        return value.rstrip("/")

    @field_validator("triggers")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in TRIGGERS]
        if unknown:
            raise ValueError(f"unknown trigger(s) {unknown}: one of {', '.join(TRIGGERS)}")
        return value

    @field_validator("max_per_pass", "max_attempts")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("at least 1")
        return value
