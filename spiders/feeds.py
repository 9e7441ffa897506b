"""The `feeds` spider: poll each configured feed, store its entries, follow the new ones.

Conditional GET (ETag / Last-Modified) keeps a re-crawl cheap; the validators advance only
after the fetch's new entries are stored. Entries whose article is not stored yet (new, or
left by a crash) are followed on every crawl until they are, a few attempts at most.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
)
from scrapy.http import Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.misc import load_object
from twisted.internet.defer import Deferred, fail
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from monitor import claims, worker
from monitor.config import Config, ConfigError, load_config
from monitor.crawl.deferred import T, on_executor
from monitor.crawl.items import ArticleItem
from monitor.crawl.middleware import retry_after
from monitor.crawl.pool import WorkerDied
from monitor.crawl.settings import config_overrides
from monitor.crawl.workers import Workers
from monitor.feeds import FAILING_FOR, FeedError
from monitor.models import FeedEntry, FetchedPage
from monitor.store import CRAWL_CLAIM, MAX_ATTEMPTS, Claim, Store, StoreError, describe_error, unreachable
from monitor.urls import canonical_url

log = logging.getLogger(__name__)
MAX_ETAG = 1024  # longer ETags are not kept (nginx refuses request headers over 8 KB by default)
# One crawl per store at a time (two would each poll every feed and fetch every new page, twice
# the requests to each site): a crawl claims the store before its first request and renews the
# claim every CLAIM_RENEW_S. The renewal waits on the database thread behind the calls queued
# there (each may wait 5 s for the server), so the claim lasts four renewals: three can be late or
# fail before it runs out. A crawl that died holds up the next ones this long at most when it ran
# on another host (one of this host is seen to be gone, and its claim taken over at once).
CLAIM_TTL = timedelta(minutes=2)
CLAIM_RENEW_S = 30.0


# What Twisted's and Scrapy's terse network errors mean, in the words of a user
_PLAIN_WORDS = {
    "ConnectionDone": "the server closed the connection before it answered",
    "ConnectionLost": "the connection was lost before the answer was complete",
    "ResponseDataLossError": "the server closed the connection before the whole body arrived",
    "DownloadCancelledError": "the download was stopped (a body larger than crawl.max_page_size?)",
}


def describe_failure(failure: Failure) -> str:
    """One line a user can act on: the HTTP status (and where a refused redirect pointed), or
    the network error, with the reasons Twisted wraps in lists of Failures spelled out."""
    if failure.check(HttpError):
        response = failure.value.response
        location = response.headers.get(b"Location") if 300 <= response.status < 400 else None
        if location:
            return f"HTTP {response.status} (a redirect to {location.decode('latin-1')[:200]}, not followed)"
        return f"HTTP {response.status}"
    return _network_words(failure) or _describe(failure.value)


def _network_words(failure: Failure) -> str:
    """A refused connection, an unknown host, a timeout, said as such with where and how long
    (not "DownloadConnectionRefusedError: Connection was refused by other side: 111: ...")."""
    request = getattr(failure, "request", None)
    if request is None:
        return ""
    url = urlsplit(request.url)
    host = url.hostname or ""
    if failure.check(DownloadConnectionRefusedError):
        port = url.port or (443 if url.scheme == "https" else 80)
        return f"connection refused by {f'[{host}]' if ':' in host else host}:{port}"
    if failure.check(CannotResolveHostError):
        return f"host not found: {host}"
    if failure.check(DownloadTimeoutError):
        seconds = request.meta.get("download_timeout")
        return f"timed out after {seconds:g} s" if seconds else "timed out"
    return ""


def _describe(exc: BaseException) -> str:
    name = type(exc).__name__
    if isinstance(exc, zlib.error):  # raised by Scrapy's HttpCompressionMiddleware as it is
        return f"the body does not decompress as its Content-Encoding header says (zlib: {exc})"
    reasons = [r.value for r in _wrapped_failures(exc)]
    if any(type(r).__name__ in ("_DataLoss", "PotentialDataLoss") for r in reasons):  # a body cut short
        return f"ResponseDataLossError: {_PLAIN_WORDS['ResponseDataLossError']}"
    if reasons:
        return "; ".join(dict.fromkeys(_describe(r) for r in reasons))
    text = str(exc).strip()
    # no text, or Twisted's "Connection was closed cleanly.", which says nothing a user can act on
    if name in _PLAIN_WORDS and (not text or name == "ConnectionDone"):
        return f"{name}: {_PLAIN_WORDS[name]}"
    text = text or name
    return text if name in text else f"{name}: {text}"


def _wrapped_failures(exc: BaseException) -> list[Failure]:
    """The Failures inside Twisted's ResponseFailed / ResponseNeverReceived (its `reasons`),
    also when Scrapy re-raises one as DownloadFailedError (the list becomes its argument)."""
    for source in (exc, exc.__cause__):
        found = getattr(source, "reasons", None)
        if found is None and source is not None and source.args and isinstance(source.args[0], list):
            found = source.args[0]
        if found and all(isinstance(f, Failure) for f in found):
            return list(found)
    return []


def _running(claim: Claim | None) -> str:
    """Who holds the store's crawl claim, in the words of `crawl: not started: …`."""
    if claim is None:  # given back between our try and this look
        return "another crawl was running just now"
    return f"another crawl is running ({claims.holder(claim)})"


def _conditional(request: Request) -> bool:
    return b"If-None-Match" in request.headers or b"If-Modified-Since" in request.headers


class FeedsSpider(scrapy.Spider):
    name = "feeds"

    def __init__(
        self,
        config: Config | None = None,
        store: Store | None = None,
        feeds: str | list[str] | None = None,
        *args,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self._own_store = contextlib.ExitStack()
        self.config = config or load_config(None)
        self.store = store or self._own_store.enter_context(Store.open(self.config.storage))
        if store is None:  # `scrapy crawl feeds`: topics new or edited, as `newsmon crawl` applies them
            from monitor.backfill import apply_changed_topics

            apply_changed_topics(self.store, self.config.topics)
        wanted = feeds.split(",") if isinstance(feeds, str) else feeds
        self.feeds = [f for f in self.config.feeds if not wanted or f.name in wanted]
        self.failures: dict[str, str] = {}
        self.failing_since: dict[str, datetime] = {}
        self.in_flight: dict[str, list[FeedEntry]] = {}  # canonical URL -> entries waiting for it
        self.retry_later: set[str] = set()  # canonical URLs whose page failed for now: next crawl
        self.workers = Workers(tuple(self.config.topics.values()))
        self.max_page_bytes = self.config.crawl.max_page_bytes
        # pymongo blocks: every database call of the crawl runs on this one thread, in order,
        # while the reactor goes on downloading
        self.store_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsmon-store")
        self.database_lost: Exception | None = None  # set when the database cannot be reached
        self.claim_owner = uuid.uuid4().hex
        self.claimed = False  # whether this crawl holds the store's claim: set on the database thread
        self.not_started = ""  # why the crawl did not start: another crawl holds the store
        self.heartbeat: LoopingCall | None = None  # renews the claim
        self.renewal_failing = False  # said once, until a renewal succeeds

    @classmethod
    def update_settings(cls, settings) -> None:
        """Under `scrapy crawl feeds` the config's `crawl:` section applies too."""
        super().update_settings(settings)
        if settings.getbool("NEWSMON_CONFIGURED"):
            return  # `newsmon crawl` applied it already
        try:
            config = load_config(None)
        except ConfigError as exc:  # as `newsmon` reports it: every problem, exit 2, no traceback
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            raise SystemExit(2) from None
        settings.setdict(config_overrides(config), priority="spider")

    def closed(self, reason: str) -> None:
        if self.heartbeat is not None and self.heartbeat.running:
            self.heartbeat.stop()
        self.workers.close()
        self.give_back_claim()
        self.store_thread.shutdown(wait=True)
        self._own_store.close()

    def on_store(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Deferred[T]:
        """Run a Store method on the database thread. Once the database cannot be reached, every
        call fails at once with that error (each would wait 5 s for the server in vain) and the
        crawl stops: what it did not store, the next crawl fetches again."""
        if self.database_lost is not None:
            return fail(self.database_lost)

        def guarded() -> T:  # calls queued before the loss was seen fail at once too
            if self.database_lost is not None:
                raise self.database_lost
            return fn(*args, **kwargs)

        return on_executor(self.store_thread, guarded).addErrback(self._watch_database)

    def _watch_database(self, failure: Failure) -> Failure:
        exc = failure.value
        if self.database_lost is None and isinstance(exc, Exception) and unreachable(exc):
            self.database_lost = exc
            log.error(
                "the database cannot be reached (%s): stopping the crawl; the next crawl fetches"
                " again what this one did not store",
                describe_error(exc),
            )
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="database_unreachable"))
        return failure

    def _count(self, key: str, n: int = 1) -> None:
        self.crawler.stats.inc_value(f"newsmon/{key}", n)

    async def start(self) -> AsyncIterator[Request]:
        try:
            self.not_started = await self.on_store(self._take_claim)
        except StoreError as exc:  # one that cannot reach the database stops the crawl, as any does
            if exc is not self.database_lost:
                self.not_started = f"the database refused the crawl's claim: {describe_error(exc)}"
            return
        if self.not_started:  # no request at all
            log.info("crawl not started: %s", self.not_started)
            return
        self.heartbeat = LoopingCall(self._renew_claim)
        self.heartbeat.start(CLAIM_RENEW_S, now=False)
        for request in self.feed_requests():
            yield request

    # ------------------------------------------------------------ the store's crawl claim

    def _take_claim(self) -> str:
        """On the database thread: claim the store for this crawl (taking over the claim of a crawl
        of this host that is gone); "" when claimed, else who holds it."""
        if claims.acquire(
            self.store, CRAWL_CLAIM, self.claim_owner, CLAIM_TTL, "the newsmon crawl that claimed this store"
        ):
            self.claimed = True
            return ""
        return _running(self.store.claim_holder(CRAWL_CLAIM))

    def _renew_claim(self) -> Deferred:
        """Every CLAIM_RENEW_S. A database error is said once and the next renewal tries again (one
        that cannot reach the database stops the crawl, as it does for any store call); a claim
        that another crawl took meanwhile, deeming this one gone, stops this crawl."""
        return self.on_store(self._hold_claim).addCallbacks(self._renewed, self._not_renewed)

    def _hold_claim(self) -> str:
        """On the database thread: "" while the claim is ours, else who holds it now."""
        if not self.claimed or self.store.renew_claim(CRAWL_CLAIM, self.claim_owner, CLAIM_TTL):
            return ""
        self.claimed = False
        return _running(self.store.claim_holder(CRAWL_CLAIM))

    def _renewed(self, lost_to: str) -> None:
        self.renewal_failing = False
        if lost_to:
            log.warning("this crawl's claim on the store was taken over: %s; stopping this crawl", lost_to)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="claim_lost"))

    def _not_renewed(self, failure: Failure) -> None:
        if failure.value is not self.database_lost and not self.renewal_failing:
            log.warning(
                "could not renew this crawl's claim on the store (it holds %d s from the last renewal;"
                " trying again every %d s): %s",
                CLAIM_TTL.total_seconds(),
                CLAIM_RENEW_S,
                describe_error(failure.value),
            )
        self.renewal_failing = True

    def give_back_claim(self) -> None:
        """Give the store's claim back, on the database thread, after what is queued there (the
        claim itself, too). Also called after a second Ctrl-C, which stops the reactor without
        closing the spider."""
        with contextlib.suppress(RuntimeError):  # that thread is shut down: given back already
            self.store_thread.submit(self._release_claim).result()

    def _release_claim(self) -> None:
        # with the database lost, it stays: the next crawl of this host takes it over at once,
        # a crawl of another host waits until it runs out
        if not self.claimed or self.database_lost is not None:
            return
        self.claimed = False
        try:
            self.store.release_claim(CRAWL_CLAIM, self.claim_owner)
        except StoreError as exc:
            log.warning("could not give back this crawl's claim on the store: %s", describe_error(exc))

    # ------------------------------------------------------------ feeds

    def feed_requests(self) -> Iterator[Request]:
        states = self.store.feed_states([f.name for f in self.feeds])
        if any(f.name not in states for f in self.feeds):  # its first fetch will have entries to parse
            self.workers.start_now()
        now = datetime.now(UTC)
        for feed in self.feeds:
            state = states.get(feed.name)
            if state and state.failing_since:
                self.failing_since[feed.name] = state.failing_since
            headers = {}
            if state and state.url == feed.url:  # validators belong to the URL they came from
                if state.etag:
                    headers["If-None-Match"] = state.etag
                if state.last_modified:
                    headers["If-Modified-Since"] = state.last_modified
            if state and state.retry_after and state.retry_after > now:
                wait = f"server asked to wait until {state.retry_after:%Y-%m-%d %H:%M} UTC"
                self._fail(feed.name, feed.url, wait, state.retry_after)  # and keep waiting
                continue
            yield Request(
                feed.url,
                headers=headers,
                callback=self.parse_feed,
                errback=self.feed_failed,
                dont_filter=True,
                meta={"feed": feed.name, "handle_httpstatus_list": [304]},
                priority=10,
            )

    def _fail(
        self, name: str, url: str, error: str, when: datetime | None = None, forget_validators: bool = False
    ) -> None:
        self.failures[name] = error
        self._count("feeds_failed")
        since = self.failing_since.get(name)
        if since and datetime.now(UTC) - since > FAILING_FOR:
            log.error("feed %s has been failing since %s UTC: %s", name, f"{since:%Y-%m-%d %H:%M}", error)
        else:  # the crawl's summary lists it (`failed: NAME: error`); said here too only with -v
            log.info("feed %s failed: %s", name, error)
        recorded = self.on_store(
            self.store.record_feed_failure, name, url, error, when, forget_validators=forget_validators
        )
        recorded.addErrback(self._failure_not_recorded, f"feed {name}")

    def _failure_not_recorded(self, failure: Failure, what: str) -> None:
        failure.trap(StoreError)
        if failure.value is not self.database_lost:  # that one is reported once, as the crawl stops
            log.error("could not record the failure of %s: %s", what, describe_error(failure.value))

    def feed_failed(self, failure: Failure) -> None:
        request = failure.request
        name = request.meta["feed"]
        when = None
        forget_validators = False
        if failure.check(HttpError):
            status = failure.value.response.status
            when = request.meta.get("retry_after") or retry_after(failure.value.response)
            # a 4xx to a conditional request may be about the validators (a 400 for a header too
            # long, a 412): the next crawl asks without them rather than the same way for ever
            forget_validators = 400 <= status < 500 and status != 429 and _conditional(request)
        self._fail(name, request.url, describe_failure(failure), when, forget_validators)

    async def parse_feed(self, response: Response) -> AsyncIterator[Request]:
        name = response.meta["feed"]
        try:
            for request in await self._parse_feed(name, response):
                yield request
        except StoreError as exc:  # the database went away: nothing advanced, the next crawl redoes it
            self._fail(name, self.config.feed(name).url, f"database error: {describe_error(exc)}")

    async def _parse_feed(self, name: str, response: Response) -> list[Request]:
        feed = self.config.feed(name)
        fetched: tuple[FeedEntry, ...] = ()
        if response.status == 304 and not _conditional(response.request):
            self._fail(name, feed.url, "HTTP 304 (not modified) to a request that had nothing to compare")
            return []
        if response.status == 304:
            self._count("feeds_not_modified")
            await self.on_store(
                self.store.record_feed_success,
                name,
                feed.url,
                not_modified=True,
                etag="",
                last_modified="",
                new_items=0,
            )
        else:
            content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
            try:
                parsed = await self.workers.run(
                    worker.parse_feed, response.body, response.url, name, content_type, self.max_page_bytes
                )
            except FeedError as exc:
                self._fail(name, feed.url, str(exc))
                return []
            except WorkerDied as exc:  # this feed's body killed the parser twice; other feeds go on
                self._fail(name, feed.url, f"the feed parser crashed: {exc}")
                return []
            etag = (response.headers.get(b"ETag") or b"").decode("latin-1")
            if len(etag) > MAX_ETAG:  # sent back, it would make the request too large for many servers
                etag = ""
            last_modified = (response.headers.get(b"Last-Modified") or b"").decode("latin-1")
            if not parsed.complete:  # cut short in transit: no validators, so the next crawl gets it whole
                etag = last_modified = ""
                log.warning(
                    "feed %s ends early (%s): stored the %d entries before the cut;"
                    " the next crawl fetches it in full",
                    name,
                    parsed.warning,
                    len(parsed.entries),
                )
            elif parsed.warning:
                log.info("feed %s: recovered from bad markup (%s)", name, parsed.warning)
            if parsed.without_link:
                log.warning("feed %s: skipped %d entries without an http(s) link", name, parsed.without_link)
            fetched = parsed.entries
            new = await self.on_store(self.store.store_entries, list(fetched))  # before validators advance
            await self.on_store(
                self.store.record_feed_success,
                name,
                feed.url,
                not_modified=False,
                etag=etag,
                last_modified=last_modified,
                new_items=new,
                partial="" if parsed.complete else f"the document ends early: {parsed.warning}",
            )
            self._count("feeds_fetched")
            self._count("new_entries", new)
        return await self.follow(await self.on_store(self.store.entries_to_follow, name, fetched))

    async def follow(self, entries: list[FeedEntry]) -> list[Request]:
        """Requests for the entries' articles not stored and not already on their way.

        Nothing is awaited between the look-up of stored articles and the `in_flight`
        decisions: the database thread runs in order, so an article stored after the look-up
        is still in `in_flight` when they are made (the pipeline removes it only after storing).
        """
        by_url: dict[str, list[FeedEntry]] = {}
        for entry in entries:
            by_url.setdefault(canonical_url(entry.link), []).append(entry)
        if not by_url:
            return []
        known = await self.on_store(self.store.known_articles, by_url)
        requests, attach = [], []
        for url, waiting in by_url.items():
            if url in known:  # the same article, already stored from another feed or link
                attach.append((url, [(e.feed, e.key) for e in waiting]))
            elif url in self.in_flight:  # being fetched for another feed in this crawl
                self.in_flight[url].extend(waiting)
            elif url in self.retry_later:  # failed for now in this crawl: left pending
                continue
            else:
                self.in_flight[url] = list(waiting)
                requests.append(
                    Request(
                        waiting[0].link,
                        callback=self.parse_article,
                        errback=self.article_failed,
                        meta={"canonical": url},
                        # `follow` fetches each article once; Scrapy's filter would also drop, without
                        # a word, a redirect to a page already fetched (a consent wall, a loop)
                        dont_filter=True,
                    )
                )
        for url, pairs in attach:
            await self.on_store(self.store.attach_entries, url, pairs)
        return requests

    def _item(self, request: Request, page: FetchedPage) -> ArticleItem:
        """The entries stay in `in_flight` until the pipeline has stored the article: an entry of
        another feed that arrives meanwhile joins them instead of fetching the page again."""
        canonical = request.meta["canonical"]
        return ArticleItem(canonical, list(self.in_flight.get(canonical, [])), page)

    def parse_article(self, response: Response) -> Iterator[ArticleItem]:
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        page = FetchedPage(response.url, response.status, content_type, response.body)
        yield self._item(response.request, page)

    @cached_property
    def _passing_failures(self) -> tuple[frozenset[int], tuple[type[BaseException], ...]]:
        """HTTP codes and errors that say "not now" rather than "never": what Scrapy retries."""
        settings = self.crawler.settings
        errors = tuple(
            e if isinstance(e, type) else load_object(e) for e in settings.getlist("RETRY_EXCEPTIONS")
        )
        return frozenset(settings.getlist("RETRY_HTTP_CODES")), errors

    def _passing(self, failure: Failure) -> bool:
        codes, errors = self._passing_failures
        if failure.check(HttpError):
            return failure.value.response.status in codes
        return bool(failure.check(*errors))

    async def article_failed(self, failure: Failure) -> AsyncIterator[ArticleItem]:
        """A page that fails for now (a timeout, a 5xx, a 429) is asked for again by the next
        crawls, up to MAX_ATTEMPTS in all; one that fails for good (a 404, robots.txt, too large),
        or for the last time, keeps the entry's own text."""
        request = failure.request
        error = describe_failure(failure)
        canonical = request.meta["canonical"]
        waiting = self.in_flight.get(canonical, [])
        tried = max((e.attempts for e in waiting), default=0) + 1
        if self._passing(failure) and waiting and tried < MAX_ATTEMPTS:
            del self.in_flight[canonical]
            self.retry_later.add(canonical)
            self._count("articles_retry_later")
            log.info(  # counted in the summary; each one with -v (a cron job mailed them all)
                "article %s not fetched (%s); the next crawl tries again (%d of %d)",
                request.url,
                error,
                tried,
                MAX_ATTEMPTS,
            )
            try:
                for e in waiting:
                    await self.on_store(self.store.mark_entry, e.feed, e.key, done=False, error=error)
            except StoreError as exc:  # left as it was: the next crawl follows it all the same
                if exc is not self.database_lost:
                    log.error("could not record the failure of %s: %s", request.url, describe_error(exc))
            return
        # counted in the summary; each one with -v: a first crawl of feeds whose links 404 or
        # sit behind a paywall printed hundreds of lines, and a cron job mailed them all
        self._count("articles_feed_text")
        log.info("article %s not fetched (%s); keeping the feed's text", request.url, error)
        yield self._item(request, FetchedPage(request.url, error=error))
