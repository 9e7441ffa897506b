"""Work handed to a thread or process pool, awaited from the crawl's Twisted reactor.

The crawl runs on Twisted's default reactor for the platform (epoll on Linux) rather than on
Scrapy's default asyncio one: on the bench sites, Scrapy alone fetching the same pages took about
a quarter less CPU. So pool results come back as Deferreds, which Scrapy's `async def` callbacks
can await under any reactor.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import CancelledError, Executor, Future
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

T = TypeVar("T")


def on_executor(executor: Executor, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Deferred[T]:
    """`fn(*args, **kwargs)` in `executor`; the Deferred fires in the reactor thread."""
    from twisted.internet import reactor

    result: Deferred[T] = Deferred()

    def fire(future: Future) -> None:
        if future.cancelled():
            result.errback(Failure(CancelledError()))
        elif (exc := future.exception()) is not None:
            result.errback(Failure(exc))
        else:
            result.callback(future.result())

    executor.submit(fn, *args, **kwargs).add_done_callback(
        lambda future: reactor.callFromThread(fire, future)  # type: ignore[attr-defined]
    )
    return result
