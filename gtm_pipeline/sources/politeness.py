"""How fast the fetcher may knock: one request at a time per host, a pause between two, a global rate.

The per-host limit protects somebody else's server, so it must hold across processes (Dagster runs
steps in several): each host has a lock file under the fetch folder, held with ``flock`` for the
whole request, and the file holds the moment (``CLOCK_MONOTONIC``, system-wide on Linux) the last
request to that host ended. A second process, or a second thread, waits on the lock, then for the
rest of the pause. The global rate only protects this machine's bandwidth, so it is per process.

A one-shot command (``gtm fetch``) promises to leave nothing behind, so its slots are made with
``create=False``: a host that already has a lock file (the pipeline has been, or is, crawling it)
is queued on that file, so the command still waits its turn; any other host gets a lock in a
private temporary folder, removed by :meth:`HostSlots.close`. The gap, accepted: a pipeline that
starts on a host at the very moment the command fetches it may overlap it by one request.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
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
    """Serialise requests per host across threads and processes, with a pause between two.

    ``create=False``: make no file under ``folder`` (see the module's note): join a host's lock
    file where one exists, else use a private one that :meth:`close` removes."""

    def __init__(self, folder: Path, *, create: bool = True) -> None:
        self.folder, self.create = folder, create
        self._private: Path | None = None
        self._private_lock = threading.Lock()
        if create:
            folder.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        """Remove the private lock folder, if one was made (a no-op for shared slots)."""
        with self._private_lock:
            if self._private is not None:
                shutil.rmtree(self._private, ignore_errors=True)
                self._private = None

    def _path(self, host: str, folder: Path | None = None) -> Path:
        # Hashed: a host name is a file name nowhere, whatever characters it holds.
        return (folder or self.folder) / f"{hashlib.sha256(host.lower().encode()).hexdigest()[:24]}.lock"

    def _open(self, host: str) -> int:
        """A descriptor on ``host``'s lock file: the shared one (made if ``create``), else private."""
        if self.create:
            return os.open(self._path(host), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            return os.open(self._path(host), os.O_RDWR)
        except FileNotFoundError:
            with self._private_lock:
                if self._private is None:
                    self._private = Path(tempfile.mkdtemp(prefix="gtm-host-slots-"))
                return os.open(self._path(host, self._private), os.O_RDWR | os.O_CREAT, 0o600)

    @contextlib.contextmanager
    def slot(self, host: str, pause_s: float, deadline: float | None = None) -> Iterator[float]:
        """Hold ``host``'s slot for one request; yields the seconds waited for it. Raises
        :class:`SlotTimeout` when the slot is not free before ``deadline`` (monotonic)."""
        started = time.monotonic()
        fd = self._open(host)
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
