"""``gtm serve``: one small app that mounts the webhook receiver and the operator console.

The receiver module does not import the console nor the console the receiver; this
factory is the only place they meet.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from gtm_pipeline.config import Settings
from gtm_pipeline.console import routes as console_routes
from gtm_pipeline.console.headers import SecurityHeaders
from gtm_pipeline.console.security import ConsoleAuth
from gtm_pipeline.meetings.receiver import create_booking_receiver
from gtm_pipeline.outreach.ingest import Fetch
from gtm_pipeline.outreach.receiver import WEBHOOK_PATH, create_receiver, webhook_endpoint
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


class ServeApp(FastAPI):
    """FastAPI, except that a webhook goes straight to the receiver's endpoint.

    Resend posts events in bursts, and at saturation the layers every request otherwise crosses
    (Starlette's error and exception middleware, FastAPI's routing, the console's security headers)
    cost as much CPU as the event's own verification and write. The webhook endpoint answers
    everything itself - its refusals, its 500 when the store fails, a 405 for another method - and
    sets no cookie and serves no page, so nothing those layers add applies to it. Every other path
    (the console, unsubscribe, ``/healthz``, any router included later) goes through the app as
    usual."""

    webhook: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.webhook is not None and scope["type"] == "http" and scope["path"] == WEBHOOK_PATH:
            scope["app"] = self
            await self.webhook(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _base() -> ServeApp:
    app = ServeApp(title="gtm-pipeline", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def receiver_app(store: Store, sending: SendingSettings, secret: str | None, fetch: Fetch | None) -> FastAPI:
    """The receiver alone, bound to one store (tests, rehearsals, `gtm serve --no-console`)."""
    app = _base()
    router = create_receiver(store, sending, secret, fetch)
    app.include_router(router)
    app.webhook = webhook_endpoint(router)
    return app


def create_app(settings: Settings, *, services: Services | None = None, console: bool = True) -> FastAPI:
    """What ``gtm serve`` runs: the receiver, and the console unless ``console`` is false."""
    services = services or Services.from_settings(settings)
    app = receiver_app(
        services.store, services.sending, settings.secret("resend_webhook_secret"), receiving_fetch(settings)
    )
    # The schedulers' booking webhooks face the internet like Resend's (each refuses all until its
    # secret is set).
    app.include_router(
        create_booking_receiver(
            services.store,
            calcom_secret=settings.secret("calcom_webhook_secret"),
            calendly_signing_key=settings.secret("calendly_webhook_signing_key"),
            calendly_tolerance_s=settings.meetings.calendly_tolerance_s,
        )
    )
    if console:
        static = Path(__file__).parent / "console" / "static"
        app.mount("/static", StaticFiles(directory=str(static)), name="static")
        console_routes.mount(
            app, services, ConsoleAuth.from_settings(settings, services.store.console_sessions)
        )
        app.add_middleware(SecurityHeaders)
    return app
