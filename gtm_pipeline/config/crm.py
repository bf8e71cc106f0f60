"""The ``[crm]`` section: whether and how qualified conversations reach the team's CRM.

Kept in its own module, with nothing of the project imported (like :mod:`.alerts`), so the settings
model can hold it as a table of ``gtm.toml`` without an import cycle. The HubSpot private app's
token is a secret (``GTM_HUBSPOT_TOKEN``): it comes from the environment or the secrets file only.

Off by default (``kind = "none"``): the demo and a fresh workspace need no CRM and no key.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from gtm_pipeline.config.fields import setting

# What can start a push: a reply of one of the classifier's positive categories, or a booking.
TRIGGERS = ("reply:interested", "reply:question", "reply:referral", "meeting_booked")


class CrmSettings(BaseModel):
    """Companies and contacts pushed to a CRM when a conversation turns positive; deals read back."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["none", "hubspot", "csv"] = setting(
        "none", "GTM_CRM_KIND", doc="Where conversations go: none (off), hubspot, or csv (files to import)."
    )
    api_url: str = setting(
        "https://api.hubapi.com", "GTM_CRM_API_URL", doc="HubSpot's API address (a twin's in tests)."
    )
    csv_folder: str = setting(
        "crm-export", "GTM_CRM_CSV_FOLDER", doc="The csv export's folder, under home unless absolute."
    )
    triggers: list[str] = setting(
        list(TRIGGERS),
        "GTM_CRM_TRIGGERS",
        doc="What pushes a prospect: reply:interested, reply:question, reply:referral, meeting_booked.",
        csv=True,
    )
    won_stages: list[str] = setting(
        ["closedwon"], "GTM_CRM_WON_STAGES", doc="Deal stages that mean the deal was won.", csv=True
    )
    lost_stages: list[str] = setting(
        ["closedlost"], "GTM_CRM_LOST_STAGES", doc="Deal stages that mean the deal was lost.", csv=True
    )
    max_per_pass: int = setting(50, "GTM_CRM_MAX_PER_PASS", doc="Prospects one pass pushes at most.")
    max_attempts: int = setting(
        3,
        "GTM_CRM_MAX_ATTEMPTS",
        doc="Passes that may fail on one prospect before it is given up and escalated.",
    )
    rate_limit_retries: int = setting(
        4,
        "GTM_CRM_RATE_LIMIT_RETRIES",
        doc="Times one request waits out a 429 (its Retry-After) and tries again.",
    )
    timeout_s: float = setting(15.0, "GTM_CRM_TIMEOUT_S", doc="Seconds one request to the CRM may take.")

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
