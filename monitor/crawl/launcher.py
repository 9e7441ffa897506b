"""Scheduled crawls start as forks of a process that has already imported the crawl stack.

`newsmon run` crawls every `crawl.every`, forever, each crawl in a process of its own (Twisted's
reactor cannot restart in a process, and a crawl that hangs or leaks must not take the scheduler
down). Started as a fresh `newsmon crawl`, each paid ~1.1 s of CPU importing Scrapy, Twisted and
pymongo: more than twice what a quiet re-crawl (every feed answering 304) then costs. So the
scheduler keeps multiprocessing's fork server, started once with that stack imported, and each
crawl is a fork of it: still a fresh process that reads the config anew and exits when done.

Free of Scrapy and Twisted: the scheduler imports this, and only the fork server imports them.
"""

from __future__ import annotations

import contextlib
import io
import logging
import multiprocessing
import os
import sys
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from monitor.crawl import forkserver

# Imported by the fork server before its first fork. None of them installs Twisted's reactor or
# starts a thread (tests/test_crawl_launcher.py checks): a reactor made there would hand one epoll
# instance to every crawl, and a thread would not survive the fork.
PRELOAD = ["monitor.cli", "monitor.store", "monitor.crawl.runner", *forkserver.PRELOAD]


@dataclass(frozen=True)
class CrawlRun:
    """How one crawl process ended: its exit code (negative: killed by that signal) and what
    `newsmon crawl` prints (the summary, a line per failed feed; empty if it died first)."""

    exit_code: int
    output: str


class CrawlLauncher:
    """Runs crawls, one process each, forked from a fork server that preloaded the crawl stack."""

    def __init__(self) -> None:
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(PRELOAD)
        self._lock = threading.Lock()
        self._running: set[BaseProcess] = set()
        self._stopping = False

    def warm_up(self) -> None:
        """Start the fork server now: its imports run while the scheduler does its own start-up.
        A fork server that dies later (the OOM killer) is started again by the next crawl."""
        forkserver.ensure_fork_server()

    def crawl(self, config_path: str) -> CrawlRun | None:
        """Run one crawl to its end; None if `stop` was called first."""
        receive, send = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=crawl_in_child, args=(config_path, send), name="newsmon-crawl")
        try:
            with self._lock:  # so `stop` either sees this process or keeps it from starting
                if self._stopping:
                    return None
                forkserver.ensure_fork_server()  # again, if it died since (else a no-op)
                proc.start()
                self._running.add(proc)
            send.close()  # the child holds the only write end now: its death is an EOF here
            try:
                output = receive.recv()
            except EOFError:  # killed, or died before it could report
                output = ""
            proc.join()
        finally:
            send.close()
            receive.close()
            with self._lock:
                self._running.discard(proc)
        return CrawlRun(exit_code=proc.exitcode if proc.exitcode is not None else -1, output=output)

    def running(self) -> list[int]:
        """Process ids of the crawls running now."""
        with self._lock:
            return [p.pid for p in self._running if p.pid is not None]

    def stop(self) -> None:
        """Start no more crawls; ask the running ones to stop (Scrapy finishes what is in flight)."""
        with self._lock:
            self._stopping = True
            for proc in self._running:
                proc.terminate()


def crawl_in_child(config_path: str, report: Connection) -> None:
    """In the forked process: `newsmon --config PATH crawl`, its output sent back, then exit
    without the interpreter's teardown (as `newsmon` itself does)."""
    from monitor import cli
    from monitor.config import ConfigError, load_config

    # A process group of its own: Ctrl-C in the scheduler's terminal goes to the whole foreground
    # group, and the crawl would get it besides the scheduler's SIGTERM; Scrapy takes a second
    # signal as "stop now", dropping the requests in flight.
    os.setpgid(0, 0)
    # `run` stops its crawls with SIGTERM, maybe before `newsmon crawl` below sets its handler:
    # unwound as there from the start (it killed the crawl, logged as an ERROR of its own). The
    # stop signals are still blocked, as in the fork server: one that came since the fork (this
    # process was in the terminal's group until `setpgid`) is delivered when they are unblocked.
    cli.unwind_on_sigterm()
    out = io.StringIO()
    code = cli.EXIT_FAILED
    try:
        forkserver.unblock_stop_signals()
        try:
            config = load_config(config_path)
        except (ConfigError, OSError):  # `newsmon crawl` below reads it again and reports the error
            config = None
        if config is not None:  # no thread runs yet: the one moment this process may fork workers
            forkserver.prefork(tuple(config.topics.values()))
        with contextlib.redirect_stdout(out):
            code = cli.main(["--config", config_path, "crawl"])
    except KeyboardInterrupt:
        code = cli.EXIT_INTERRUPTED
    finally:  # an unexpected exception still reports what was printed, then propagates
        report.send(out.getvalue())
        report.close()
    logging.shutdown()
    sys.stderr.flush()
    os._exit(code)
