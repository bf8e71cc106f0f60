"""Progress bars on long commands (demo, import --run, erase --file), drawn by ``rich`` on stderr.

Why stderr, and only on a terminal: stdout stays the command's answer (a summary, or ``--json``
for scripts), and a log file or CI never fills with redraws. ``GTM_PROGRESS=always`` draws them
anyway (tests use it to see a bar complete); ``GTM_PROGRESS=never`` turns them off.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

Advance = Callable[[int, int | None], None]  # (completed, new total or None)


def _choice() -> str:
    from gtm_pipeline.cli.common import settings

    return settings().model.console.progress


def _wanted(quiet: bool) -> bool:
    choice = _choice()
    if quiet or choice == "never":
        return False
    return choice == "always" or sys.stderr.isatty()


@contextmanager
def progress_bar(label: str, total: int | None, *, quiet: bool = False) -> Iterator[Advance]:
    """A bar for ``label``; the body calls ``advance(completed, total)`` as work finishes (a
    total may be learnt late: the demo knows its prospects only after discovery)."""
    if not _wanted(quiet):

        def ignore(_done: int, _total: int | None = None) -> None:
            return None

        yield ignore
        return
    forced = _choice() == "always"
    console = Console(stderr=True, force_terminal=forced or None, width=100 if forced else None)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=not forced) as bar:
        task = bar.add_task(label, total=total)

        def advance(done: int, new_total: int | None = None) -> None:
            if new_total is not None:
                bar.update(task, total=new_total)
            bar.update(task, completed=done)

        yield advance
