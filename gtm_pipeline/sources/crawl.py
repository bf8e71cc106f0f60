"""Fetching many URLs at once without ever being impolite to one host: a small crawl frontier.

The fetcher alone is correct under any concurrency (its per-host slot blocks), but a thread that
blocks on a busy host is a thread not fetching another one. The frontier hands each worker the
URL of the host that is ready soonest and not in flight, so the wall time approaches the
politeness bound: the larger of the slowest host's serial time (its pages one after another with
the pause between) and the total fetch time divided by the workers.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from gtm_pipeline.sources.fetcher import Fetched, Fetcher, FetchRefused


def fetch_all(fetcher: Fetcher, urls: Sequence[str], *, workers: int = 16) -> list[Fetched | FetchRefused]:
    """Fetch every URL (results in the order given); a refusal is returned, never raised."""
    queues: dict[str, deque[int]] = {}
    for index, url in enumerate(urls):
        queues.setdefault((urlsplit(url).hostname or "").lower(), deque()).append(index)
    # Hosts with work left and nothing in flight, by the moment their pause ends (a heap: taking the
    # next host is O(log hosts), not a scan, and only one waiting worker is woken per completion).
    idle: list[tuple[float, str]] = [(0.0, host) for host in queues]
    heapq.heapify(idle)
    robots_read: set[str] = set()  # robots.txt is each host's first request, scheduled like a page
    in_flight = 0
    results: list[Fetched | FetchRefused | None] = [None] * len(urls)
    lock = threading.Condition()

    def take() -> tuple[str, int] | None:
        nonlocal in_flight
        with lock:
            while True:
                if not idle:
                    if in_flight == 0:
                        return None
                    lock.wait()
                    continue
                ready, host = idle[0]
                pause = ready - time.monotonic()
                if pause > 0:
                    # A short sleep with the lock released, not a timed wait: a timed wait's deadline
                    # is absolute on the monotonic clock, which libfaketime moves and the kernel does not.
                    lock.release()
                    try:
                        time.sleep(min(pause, 0.02))
                    finally:
                        lock.acquire()
                    continue
                heapq.heappop(idle)
                in_flight += 1
                if host not in robots_read:
                    robots_read.add(host)
                    return host, -1 - queues[host][0]  # negative: the robots.txt of that URL's origin
                return host, queues[host].popleft()

    def work() -> None:
        nonlocal in_flight
        while (job := take()) is not None:
            host, index = job
            url = urls[index if index >= 0 else -1 - index]
            try:
                if index < 0:
                    fetcher.read_robots(url)  # a refusal here is met again, and returned, by the page
                else:
                    results[index] = fetcher.get(url)
            except FetchRefused as refused:
                results[index] = refused
            finally:
                with lock:
                    in_flight -= 1
                    if queues[host]:
                        heapq.heappush(idle, (time.monotonic() + fetcher.pause_for(url), host))
                    if idle and in_flight:
                        lock.notify()  # one worker for the host just put back
                    else:
                        lock.notify_all()  # nothing left to hand out: let every worker see it

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for future in [pool.submit(work) for _ in range(max(1, workers))]:
            future.result()
    return [r for r in results if r is not None]
