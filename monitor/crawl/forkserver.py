"""How many worker processes a crawl uses, and where they start from: the fork server, or a
scheduled crawl that forks them itself (`prefork`).

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
import select
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import resource_tracker
from typing import Any

from monitor import worker

log = logging.getLogger(__name__)

MAX_WORKERS = 256
# What every worker needs, imported once by the fork server instead of once per worker.
PRELOAD = ["monitor.ingest", "monitor.feeds", "feedparser"]


def worker_count() -> int:
    """$MONITOR_WORKERS, else one per core; 0 runs the work in a thread of the crawl process."""
    env = os.environ.get("MONITOR_WORKERS", "").strip()
    if env.isascii() and env.isdigit() and len(env) <= 3 and int(env) <= MAX_WORKERS:
        return int(env)
    if env and env not in _warned:  # a typo must not stop the crawl (it was a ValueError traceback)
        _warned.add(env)  # said once per process, though the crawl asks more than once
        log.warning("MONITOR_WORKERS=%r is not 0..%d; using one per core", env, MAX_WORKERS)
    return os.cpu_count() or 1


_warned: set[str] = set()


def context() -> multiprocessing.context.BaseContext:
    """The multiprocessing context the workers start from, with the fork server's preload set."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def start_fork_server() -> None:
    """Start the fork server now; it returns at once and the server imports in the background.
    Only for a crawl that will have work: a quiet re-crawl should not pay for those imports.
    Not for one whose workers were preforked: they need none."""
    if worker_count() > 0 and _preforked is None:
        context()
        ensure_fork_server()


# What stops a crawl: Ctrl-C (the terminal's whole process group gets it) and SIGTERM (GNU
# `timeout` and systemd send it to the whole group too). The crawl or scheduler answers them.
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def ensure_fork_server() -> None:
    """`multiprocessing.forkserver.ensure_running`, with the stop signals blocked in the server
    from its first instruction (and in the resource tracker it starts).

    The fork server ignores SIGINT, but only once its preload imports are done (~1 s): a Ctrl-C in
    that second printed a KeyboardInterrupt traceback from inside them. SIGTERM killed it, and
    with it the pool's view of its workers ("a worker process died" about a normal stop). A
    blocked signal stays blocked across fork and exec and is never delivered; the server exits
    with the process that started it anyway. In this thread the block lasts only for the spawn,
    and a signal that came meanwhile is delivered right after it. Processes forked from the server
    inherit the block: `unblock_stop_signals` gives it back to those that answer them.

    The resource tracker is started first: starting it unblocks SIGINT and SIGTERM in this thread
    (it blocks them around its own spawn the same way, then unblocks them whatever was blocked)."""
    resource_tracker.ensure_running()
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def unblock_stop_signals() -> None:
    """In a process forked from the fork server: take SIGINT and SIGTERM as set again (see
    `ensure_fork_server`); one that came since the fork is delivered now."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def init_worker(crawl_pid: int, init: Callable[..., None], *args: Any) -> None:
    """A worker's initializer: `init(*args)`, and exit when the crawl process does.

    Workers are children of the fork server, not of the crawl, and wait on a queue whose write end
    they hold themselves: a crawl killed outright (the OOM killer, SIGKILL) used to leave them,
    and the fork server they keep alive, running for good - a leak on every such crawl.

    SIGINT and SIGTERM are ignored: Ctrl-C reaches the terminal's whole process group, and so does
    the SIGTERM of `timeout`; the crawl answers them by stopping gracefully and shutting the pool
    down. A worker that took Ctrl-C as KeyboardInterrupt died mid-task (a traceback per worker,
    and the pool restarted it for the work in flight); one that died of SIGTERM was reported as
    "a worker process died"."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    unblock_stop_signals()  # ignored now: no longer blocked as well, like any other process's
    exit_with(crawl_pid)
    init(*args)


def exit_with(pid: int) -> None:
    """Exit this process as soon as process `pid` has exited (a thread waits on its pidfd)."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:  # gone already
        os._exit(1)
    except (AttributeError, OSError) as exc:  # no pidfd (not Linux >= 5.3): a normal end of the
        # crawl still shuts its workers down; only those of a crawl killed outright would stay
        log.debug("this worker cannot follow the crawl process out: %s", exc)
        return

    def wait() -> None:
        exited = select.poll()
        exited.register(pidfd, select.POLLIN)  # readable once the process has exited
        exited.poll()
        os._exit(1)

    threading.Thread(target=wait, name="newsmon-exit-with-crawl", daemon=True).start()


# Worker processes forked by `prefork`, with the topics they were given, until a crawl takes them.
_preforked: tuple[ProcessPoolExecutor, tuple] | None = None


def prefork(topics: tuple) -> None:
    """Fork this crawl's worker processes now, from this process.

    Only for a process that has the parsing, extraction and matching stack imported and no
    thread yet: a scheduled crawl, itself forked from the scheduler's fork server. Its workers
    then start with nothing to import, and no fork server of their own is started (~0.7 s of
    CPU per crawl that finds new items). A quiet re-crawl pays two forks (a few ms each)."""
    global _preforked
    count = worker_count()
    if count <= 0:
        return
    ctx = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(
        count, mp_context=ctx, initializer=init_worker, initargs=(os.getpid(), worker.init, topics)
    )
    # with "fork", the first task starts every process before the pool starts its threads
    pool.submit(worker.ready)
    _preforked = (pool, topics)


def take_preforked(topics: tuple) -> ProcessPoolExecutor | None:
    """The preforked pool, if its workers were given these topics (else it is shut down)."""
    global _preforked
    if _preforked is None:
        return None
    (pool, given), _preforked = _preforked, None
    if given == topics:
        return pool
    pool.shutdown(wait=False)  # the config changed between the two reads: topics of the other one
    return None
