"""``gtm serve``: one small app that mounts the webhook receiver and the operator console.

The receiver module does not import the console nor the console the receiver; this
factory is the only place they meet.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from gtm_pipeline.config import Settings
from gtm_pipeline.console import routes as console_routes
from gtm_pipeline.console.headers import SecurityHeaders
from gtm_pipeline.console.security import ConsoleAuth
from gtm_pipeline.outreach.ingest import Fetch
from gtm_pipeline.outreach.receiver import create_receiver
from gtm_pipeline.outreach.resend_client import ResendClient, SendingNotConfiguredError
from gtm_pipeline.outreach.settings import SendingSettings
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.store import Store


def receiving_fetch(settings: Settings) -> Fetch | None:
    """The SDK's receiving API when Resend is configured, else None (bodies fetched later)."""
    try:
        return ResendClient.from_settings(settings).received
    except SendingNotConfiguredError:
        return None


def _base() -> FastAPI:
    app = FastAPI(title="gtm-pipeline", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def receiver_app(store: Store, sending: SendingSettings, secret: str | None, fetch: Fetch | None) -> FastAPI:
    """The receiver alone, bound to one store (tests, rehearsals, `gtm serve --no-console`)."""
    app = _base()
    app.include_router(create_receiver(store, sending, secret, fetch))
    return app


def create_app(settings: Settings, *, services: Services | None = None, console: bool = True) -> FastAPI:
    """What ``gtm serve`` runs: the receiver, and the console unless ``console`` is false."""
    services = services or Services.from_settings(settings)
    app = receiver_app(
        services.store, services.sending, settings.secret("resend_webhook_secret"), receiving_fetch(settings)
    )
    if console:
        static = Path(__file__).parent / "console" / "static"
        app.mount("/static", StaticFiles(directory=str(static)), name="static")
        console_routes.mount(
            app, services, ConsoleAuth.from_settings(settings, services.store.console_sessions)
        )
        app.add_middleware(SecurityHeaders)
    return app
