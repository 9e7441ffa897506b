"""A process pool that outlives its workers.

When a worker process dies (the kernel's OOM killer, a crash in a C extension on hostile input),
`ProcessPoolExecutor` fails every task it holds and refuses new ones for good: one bad page would
fail the rest of the crawl. This pool starts new workers instead and runs each task that the death
took down once more; a task whose second run also ends in a dead worker fails with `WorkerDied`.
Free of Twisted and Scrapy, so it is tested with plain futures.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

RUNS = 2  # runs of one task, each ended by a dead worker, before it fails


class WorkerDied(RuntimeError):
    """A worker process died while running this task, on each of its runs."""


@dataclass
class _Task:
    fn: Callable[..., Any]
    args: tuple
    kwargs: dict
    result: Future
    runs: int = 0


class RecoveringPool(Executor):
    def __init__(
        self, make_pool: Callable[[], ProcessPoolExecutor], first: ProcessPoolExecutor | None = None
    ):
        """`make_pool` makes each pool (`first`, if given, is the first one)."""
        self._make_pool = make_pool
        self._pool = first if first is not None else make_pool()
        self._lock = threading.Lock()  # done-callbacks run on the pool's own thread
        self._closed = False
        self.restarts = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        task = _Task(fn, args, kwargs, Future())
        self._run(task)
        return task.result

    def _run(self, task: _Task) -> None:
        task.runs += 1
        with self._lock:
            pool = self._pool
        try:
            running = pool.submit(task.fn, *task.args, **task.kwargs)
        except BrokenProcessPool as exc:  # the death was noticed before this task got in
            self._retry(pool, task, exc)
        except RuntimeError as exc:  # shut down meanwhile (the crawl ended)
            task.result.set_exception(exc)
        else:
            running.add_done_callback(lambda done: self._finished(pool, task, done))

    def _finished(self, pool: ProcessPoolExecutor, task: _Task, done: Future) -> None:
        if done.cancelled():
            task.result.cancel()
            return
        exc = done.exception()
        if isinstance(exc, BrokenProcessPool):
            self._retry(pool, task, exc)
        elif exc is not None:
            task.result.set_exception(exc)
        else:
            task.result.set_result(done.result())

    def _retry(self, pool: ProcessPoolExecutor, task: _Task, exc: BrokenProcessPool) -> None:
        with self._lock:
            if self._closed:
                task.result.set_exception(exc)
                return
            if self._pool is pool:  # the first task to see this death replaces the pool
                log.warning("a worker process died (%s); starting new ones and retrying its tasks", exc)
                self._pool = self._make_pool()
                self.restarts += 1
                pool.shutdown(wait=False)  # broken: it has already failed all it held
        if task.runs >= RUNS:
            name = getattr(task.fn, "__name__", repr(task.fn))
            died = WorkerDied(f"a worker process died running {name}, on each of {RUNS} tries")
            task.result.set_exception(died)
            return
        self._run(task)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            pool = self._pool
        pool.shutdown(wait=wait, cancel_futures=cancel_futures)
