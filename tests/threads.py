"""Running one piece of work in many threads released at the same instant (the race tests)."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any


def at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """``work(i)`` in ``count`` threads released together; their results (any error re-raised)."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[str] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[i] = work(i)
        except BaseException:
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [], "\n".join(errors)
    return results
