"""``gtm serve``: one small app that mounts the webhook receiver (and, later, the console).

The receiver module does not import the console nor the console the receiver; this
factory is the only place they meet.
"""

from __future__ import annotations

from fastapi import FastAPI

from gtm_pipeline.config import paths
from gtm_pipeline.outreach.inbound import Fetch
from gtm_pipeline.outreach.receiver import create_receiver, webhook_secret
from gtm_pipeline.outreach.resend_client import ResendClient, SendingNotConfiguredError
from gtm_pipeline.outreach.settings import SendingSettings, sending_settings
from gtm_pipeline.store.repository import Store


def receiving_fetch() -> Fetch | None:
    """The SDK's receiving API when Resend is configured, else None (bodies fetched later)."""
    try:
        return ResendClient.from_environment().received
    except SendingNotConfiguredError:
        return None


def create_app(
    store: Store | None = None,
    settings: SendingSettings | None = None,
    secret: str | None = None,
    fetch: Fetch | None = None,
) -> FastAPI:
    """The app ``gtm serve`` runs; tests build it with their own store and twin."""
    resolved = paths()
    app = FastAPI(title="gtm-pipeline", docs_url=None, redoc_url=None, openapi_url=None)
    store = store or Store.open(resolved.database_url)
    settings = settings or sending_settings(resolved.home)
    app.include_router(
        create_receiver(store, settings, secret or webhook_secret(), fetch or receiving_fetch())
    )

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
