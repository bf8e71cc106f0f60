"""``gtm serve``: one small app that mounts the webhook receiver and the operator console.

The receiver module does not import the console nor the console the receiver; this
factory is the only place they meet.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from gtm_pipeline.config import paths
from gtm_pipeline.console.routes import create_console
from gtm_pipeline.console.security import ConsoleAuth
from gtm_pipeline.outreach.inbound import Fetch
from gtm_pipeline.outreach.receiver import create_receiver, webhook_secret
from gtm_pipeline.outreach.resend_client import ResendClient, SendingNotConfiguredError
from gtm_pipeline.outreach.settings import SendingSettings, sending_settings
from gtm_pipeline.pipeline.services import Services
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
    *,
    services: Services | None = None,
    console: bool | None = None,
) -> FastAPI:
    """The app ``gtm serve`` runs. Given only a store (tests, rehearsals) it is the receiver alone."""
    resolved = paths()
    with_console = console if console is not None else (services is not None or store is None)
    if with_console and services is None:
        services = Services.from_environment(resolved)
    if services is not None:
        store = services.store
    store = store or Store.open(resolved.database_url)
    settings = settings or sending_settings(resolved.home)
    app = FastAPI(title="gtm-pipeline", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(
        create_receiver(store, settings, secret or webhook_secret(), fetch or receiving_fetch())
    )
    if with_console and services is not None:
        static = Path(__file__).parent / "console" / "static"
        app.mount("/static", StaticFiles(directory=str(static)), name="static")
        app.include_router(create_console(services, ConsoleAuth.from_environment(resolved.home)))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
