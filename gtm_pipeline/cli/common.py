"""What every command shares: the settings, opening the store, time on the command line, and
errors as one line that says what to do (never a traceback)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from gtm_pipeline.config import Settings, load_settings
from gtm_pipeline.domain.clock import Clock, SystemClock, resolve_moment

if TYPE_CHECKING:
    from gtm_pipeline.pipeline.services import Services
    from gtm_pipeline.store import Store

_LOADED: dict[str, Settings] = {}


def print_json(data: object) -> None:
    """A reading command's ``--json`` output: indented, dates and other values as strings."""
    typer.echo(json.dumps(data, indent=2, default=str))


class CommandError(Exception):
    """A refusal the operator can act on: printed as one line, exit status ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def settings() -> Settings:
    """This command's settings (loaded once; the workspace was chosen by ``--workspace`` or the cwd)."""
    if "current" not in _LOADED:
        _LOADED["current"] = load_settings()
    return _LOADED["current"]


def forget_settings() -> None:
    _LOADED.clear()


def clock() -> Clock:
    """The clock every command uses: the wall clock (tests move the machine's clock with faketime)."""
    return SystemClock()


def moment(value: str | None, now: dt.datetime | None = None) -> dt.datetime:
    """``--at``: now when absent, else an ISO time or an offset from now (``+400d``)."""
    current = now or clock().now()
    if value is None:
        return current
    try:
        return resolve_moment(value, current)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@contextmanager
def open_store(at: Clock | None = None, *, read_only: bool = False) -> Iterator[Store]:
    """The store of this workspace, closed afterwards; ``read_only`` opens it so no write can happen."""
    from gtm_pipeline.store import Store

    url = settings().paths.database_url
    store = (
        Store.open_read_only(url, clock=at or clock()) if read_only else Store.open(url, clock=at or clock())
    )
    try:
        yield store
    finally:
        store.close()


@contextmanager
def open_services(at: Clock | None = None) -> Iterator[Services]:
    """Store, skills, providers and corpus of this workspace, closed afterwards."""
    from gtm_pipeline.pipeline.services import Services

    services = Services.from_settings(settings(), clock=at or clock())
    try:
        yield services
    finally:
        services.close()


def operator() -> str:
    """Who a decision made at the terminal is journaled as."""
    return settings().actor("cli")
