"""How fast the fetcher may knock: one request at a time per host, a pause between two, a global rate.

The per-host limit protects somebody else's server, so it must hold across processes (Dagster runs
steps in several): each host has a lock file under the fetch folder, held with ``flock`` for the
whole request, and the file holds the moment (``CLOCK_MONOTONIC``, system-wide on Linux) the last
request to that host ended. A second process, or a second thread, waits on the lock, then for the
rest of the pause. The global rate only protects this machine's bandwidth, so it is per process.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path


class GlobalRate:
    """At most ``rate`` request starts per second in this process (0: unlimited)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Block until a request may start; returns the seconds waited."""
        if not self.interval:
            return 0.0
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        pause = start - now
        if pause > 0:
            time.sleep(pause)
        return pause


class SlotTimeout(Exception):
    """The host's slot did not come free before the fetch's deadline."""


class HostSlots:
    """Serialise requests per host across threads and processes, with a pause between two."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def _path(self, host: str) -> Path:
        # Hashed: a host name is a file name nowhere, whatever characters it holds.
        return self.folder / f"{hashlib.sha256(host.lower().encode()).hexdigest()[:24]}.lock"

    @contextlib.contextmanager
    def slot(self, host: str, pause_s: float, deadline: float | None = None) -> Iterator[float]:
        """Hold ``host``'s slot for one request; yields the seconds waited for it. Raises
        :class:`SlotTimeout` when the slot is not free before ``deadline`` (monotonic)."""
        started = time.monotonic()
        fd = os.open(self._path(host), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise SlotTimeout(host) from None
                    time.sleep(0.01)
            last_end = _stamp(os.pread(fd, 64, 0))
            # Never more than one pause: a stamp from before a reboot (monotonic time restarts) or a
            # corrupt one must not hold a host for hours.
            wait = min(last_end + pause_s - time.monotonic(), pause_s)
            if deadline is not None and time.monotonic() + max(wait, 0) > deadline:
                raise SlotTimeout(host)
            if last_end and wait > 0:
                time.sleep(wait)
            try:
                yield time.monotonic() - started
            finally:
                # Fixed width, written in place: no truncation (a metadata write) per request.
                os.pwrite(fd, f"{time.monotonic():032.6f}".encode(), 0)
        finally:
            os.close(fd)  # closing releases the lock


def _stamp(raw: bytes) -> float:
    """The last request's end; an unreadable stamp counts as "just now" (the full pause is kept)."""
    text = raw.strip()
    if not text:
        return 0.0
    try:
        return float(text)
    except ValueError:
        return time.monotonic()
