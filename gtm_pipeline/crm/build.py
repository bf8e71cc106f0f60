"""The CRM sink the settings ask for: none (off), HubSpot (with its token), or the CSV export."""

from __future__ import annotations

from pathlib import Path

from gtm_pipeline.config.crm import CrmSettings
from gtm_pipeline.config.settings import Settings
from gtm_pipeline.crm.csv_export import CsvSink
from gtm_pipeline.crm.hubspot import HubSpotSink
from gtm_pipeline.crm.sink import CrmSink
from gtm_pipeline.domain.clock import Clock

TOKEN = "hubspot_token"  # Secrets field, from GTM_HUBSPOT_TOKEN


class CrmNotConfiguredError(RuntimeError):
    """``crm.kind`` asks for a CRM whose key is missing: said, never skipped silently."""


def crm_settings(settings: Settings) -> CrmSettings:
    """The ``[crm]`` section (off by default: ``kind = "none"``)."""
    return settings.model.crm


def build_sink(settings: Settings, crm: CrmSettings, *, clock: Clock) -> CrmSink | None:
    """None when the CRM is off; raises :class:`CrmNotConfiguredError` when HubSpot has no token."""
    if crm.kind == "none":
        return None
    if crm.kind == "csv":
        folder = Path(crm.csv_folder)
        return CsvSink(folder if folder.is_absolute() else settings.paths.home / folder)
    token = settings.secret(TOKEN)
    if token is None:
        raise CrmNotConfiguredError("crm.kind is hubspot but GTM_HUBSPOT_TOKEN is not set: nothing is pushed")
    return HubSpotSink(
        token=token,
        api_url=crm.api_url,
        clock=clock,
        rate_limit_retries=crm.rate_limit_retries,
        timeout_s=crm.timeout_s,
    )
