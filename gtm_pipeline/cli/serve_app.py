"""The app each ``gtm serve --workers N`` worker process builds for itself.

uvicorn starts several workers only from an import string (each process imports the app anew), so
the factory loads the settings from the environment the workers inherit: the workspace
(``GTM_WORKSPACE`` or the current folder), the store (``GTM_DATABASE_URL`` or the workspace's), the
secrets, and :data:`CONSOLE_ENV` (``console.serve_console``), which ``gtm serve`` sets from
``--console/--no-console``.
"""

from __future__ import annotations

from fastapi import FastAPI

CONSOLE_ENV = "GTM_SERVE_CONSOLE"


def worker_app() -> FastAPI:
    """uvicorn's factory, called once in each worker process: its own store engine and pool."""
    from gtm_pipeline.app import create_app
    from gtm_pipeline.config import load_settings

    settings = load_settings()
    return create_app(settings, console=settings.console.serve_console)
