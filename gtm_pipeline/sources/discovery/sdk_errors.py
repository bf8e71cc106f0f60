"""How a failure of a search SDK's transport becomes a :class:`SourceFailed`, in one place.

Exa's and Tavily's SDKs both talk through ``requests`` and each has its own timeout error besides
``requests``' own; what is left once a source has read its SDK's status errors is the same for
both: a timeout is worth another try, anything else on the wire (refused, reset, DNS) is
``unreachable`` at once. A source wraps its call in :func:`transport_errors` and handles only what
its SDK says about an answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import requests

from gtm_pipeline.sources.discovery.base import SourceFailed
from gtm_pipeline.sources.discovery.http import TransientFailure


@contextmanager
def transport_errors(
    source: str, timeout_s: float, sdk_timeouts: tuple[type[BaseException], ...] = ()
) -> Iterator[None]:
    """Map a timeout (the SDK's or ``requests``') to a transient failure, any other ``requests``
    error to ``unreachable``; everything else passes through untouched."""
    timeouts: tuple[type[BaseException], ...] = (requests.exceptions.Timeout, *sdk_timeouts)
    try:
        yield
    except timeouts as exc:
        raise TransientFailure(source, "timeout", f"over {timeout_s:g}s") from exc
    except requests.exceptions.RequestException as exc:
        raise SourceFailed(source, "unreachable", f"{type(exc).__name__}: {exc}") from exc
