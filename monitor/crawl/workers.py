"""The crawl's worker processes: CPU-bound work (feed parsing, extraction, matching) runs here,
sized to the cores, while the reactor keeps downloading and storing."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from twisted.internet.defer import Deferred

from monitor import worker
from monitor.crawl.deferred import T, on_executor
from monitor.crawl.forkserver import context, ensure_fork_server, init_worker, take_preforked, worker_count
from monitor.crawl.pool import RecoveringPool
from monitor.topics import Topic

log = logging.getLogger(__name__)


class Workers:
    def __init__(self, topics: tuple[Topic, ...]):
        count = worker_count()
        # a pool without preforked workers starts its fork server before its first task, with
        # SIGINT blocked there (see `ensure_fork_server`), not from inside the pool
        self._start_server = False
        if count > 0:
            first = take_preforked(topics)
            self._start_server = first is None
            # A scheduled crawl has its workers already (`forkserver.prefork`). Otherwise they
            # start with the first task, so a quiet `newsmon crawl` starts none, from a fork
            # server that imports the parsing, extraction and matching stack once (~0.6 s of CPU)
            # for all of them. A pool that replaces one whose worker died comes from there too:
            # this process has threads by then, and forking it would not be safe.
            self.pool: Executor = RecoveringPool(
                lambda: ProcessPoolExecutor(
                    count,
                    mp_context=context(),
                    initializer=init_worker,
                    initargs=(os.getpid(), worker.init, topics),
                ),
                first=first,
            )
        else:
            worker.init(topics)
            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsmon-work")
        self.count = count

    def start_now(self) -> None:
        """Start the worker processes in the background instead of with the first task.

        For a crawl that will surely have work (a feed never fetched before): the first process
        waits for the fork server's imports (~0.6 s), which then overlap the first requests
        instead of holding up the reactor when the first feed arrives."""
        if self.count <= 0:
            return

        def spawn() -> None:
            self._ensure_server()
            try:
                for _ in range(self.count):  # the pool adds a process per task while none is idle
                    self.pool.submit(worker.ready)
            except RuntimeError as exc:  # the crawl ended (and shut the pool) before they started
                log.debug("worker processes not started early: %s", exc)

        threading.Thread(target=spawn, name="newsmon-workers-start", daemon=True).start()

    def run(self, fn: Callable[..., T], *args: Any) -> Deferred[T]:
        self._ensure_server()
        return on_executor(self.pool, fn, *args)

    def _ensure_server(self) -> None:
        if self._start_server:  # once (two threads may both see True: starting it is idempotent)
            self._start_server = False
            ensure_fork_server()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
