"""How many worker processes a crawl uses, and the fork server they start from.

Free of Scrapy and Twisted, so that `newsmon crawl` can start the fork server before it imports
them: the server's own imports (the parsing, extraction and matching stack, ~0.6 s of CPU) then
run on the other core while the crawl process imports Scrapy (~0.9 s), instead of after it.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver
import os

log = logging.getLogger(__name__)

MAX_WORKERS = 256
# What every worker needs, imported once by the fork server instead of once per worker.
PRELOAD = ["monitor.ingest", "monitor.feeds", "feedparser"]


def worker_count() -> int:
    """$MONITOR_WORKERS, else one per core; 0 runs the work in a thread of the crawl process."""
    env = os.environ.get("MONITOR_WORKERS", "").strip()
    if env.isascii() and env.isdigit() and len(env) <= 3 and int(env) <= MAX_WORKERS:
        return int(env)
    if env:  # a typo must not stop the crawl (it was a ValueError traceback)
        log.warning("MONITOR_WORKERS=%r is not 0..%d; using one per core", env, MAX_WORKERS)
    return os.cpu_count() or 1


def context() -> multiprocessing.context.BaseContext:
    """The multiprocessing context the workers start from, with the fork server's preload set."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def start_fork_server() -> None:
    """Start the fork server now; it returns at once and the server imports in the background.
    Only for a crawl that will have work: a quiet re-crawl should not pay for those imports."""
    if worker_count() > 0:
        context()
        multiprocessing.forkserver.ensure_running()
