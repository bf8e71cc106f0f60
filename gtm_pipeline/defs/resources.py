"""The one resource the assets use: access to the pipeline's services (store, skills, providers).

Provider resources (with their API keys) will live beside this one; this resource never
sees a key. It builds its services lazily, once per run process, so definitions load
fast and without touching the store.
"""

from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from gtm_pipeline.config import paths
from gtm_pipeline.pipeline.services import Services


class GtmResource(dg.ConfigurableResource):
    """Pipeline services for assets, sensors and schedules."""

    _services: Services | None = PrivateAttr(default=None)

    @property
    def services(self) -> Services:
        if self._services is None:
            self._services = Services.from_environment(paths())
        return self._services

    def teardown_after_execution(self, context: Any) -> None:
        if self._services is not None:
            self._services.close()
            self._services = None
