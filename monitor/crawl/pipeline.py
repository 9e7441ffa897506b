"""The one pipeline: analyse (extract + match) in a process pool, then store.

Extraction and matching are CPU-bound, so they run in worker processes sized to the cores
while the reactor keeps downloading. Results are written in batches (a few round trips per
50 articles, not five per article) on a database thread, so the reactor never waits on
pymongo. Entries are marked done only after their article and matches are stored, so a
database that goes away mid-crawl loses nothing: the next crawl redoes that batch.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import replace

from scrapy.exceptions import DropItem

from monitor import worker
from monitor.crawl.items import ArticleItem
from monitor.models import Ingested
from monitor.store import StoreError

log = logging.getLogger(__name__)


BATCH_SIZE = 50  # articles per database round of writes
BATCH_SECONDS = 2.0  # or fewer, when they trickle in


def worker_count() -> int:
    env = os.environ.get("MONITOR_WORKERS")
    return int(env) if env else (os.cpu_count() or 1)


class IngestPipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.pool: Executor | None = None
        self.io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsmon-store")
        self.buffer: list[Ingested] = []
        self.buffer_since = 0.0

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def open_spider(self, spider=None) -> None:
        spider = spider or self.crawler.spider
        topics = tuple(spider.config.topics.values())
        workers = worker_count()
        if workers > 0:  # worker processes start on the first article, so a re-crawl starts none
            context = multiprocessing.get_context("forkserver")
            self.pool = ProcessPoolExecutor(
                workers, mp_context=context, initializer=worker.init, initargs=(topics,)
            )
        else:  # in-process, for debugging
            worker.init(topics)
            self.pool = ThreadPoolExecutor(max_workers=1)

    async def close_spider(self, spider=None) -> None:
        await self.flush()
        if self.pool:
            self.pool.shutdown(wait=True, cancel_futures=True)
        self.io.shutdown(wait=True)

    async def process_item(self, item, spider=None):
        if not isinstance(item, ArticleItem) or not item.entries:
            return item
        spider = spider or self.crawler.spider
        stats = self.crawler.stats
        entry, page = item.entries[0], item.page
        drop = spider.config.feed(entry.feed).extract_drop
        loop = asyncio.get_running_loop()
        try:
            article, hits = await loop.run_in_executor(self.pool, worker.analyze, entry, page, drop)
        except Exception as exc:  # a bug or a crash in a worker: report it, keep the entries pending
            log.exception("analysing %s failed", page.url)
            stats.inc_value("newsmon/analysis_errors")
            raise DropItem(f"analysis failed: {exc}") from exc
        stats.inc_value("newsmon/articles_processed")
        if article.source == "feed":
            stats.inc_value("newsmon/articles_from_feed_text")
        feeds = tuple(sorted({e.feed for e in item.entries} - {article.feed}))
        if not self.buffer:
            self.buffer_since = time.monotonic()
        self.buffer.append(
            Ingested(
                article=replace(article, feeds=feeds),
                hits=tuple(hits),
                entries=tuple((e.feed, e.key) for e in item.entries),
                page_url=page.url,
                page_status=page.status,
                page_type=page.content_type,
                page_body=page.body,
            )
        )
        if len(self.buffer) >= BATCH_SIZE or time.monotonic() - self.buffer_since > BATCH_SECONDS:
            await self.flush()
        return item

    async def flush(self) -> None:
        """Write the buffered articles in one batch, on the database thread."""
        batch, self.buffer = self.buffer, []
        if not batch:
            return
        stats = self.crawler.stats
        store = self.crawler.spider.store
        try:
            new, matched = await asyncio.get_running_loop().run_in_executor(
                self.io, store.store_ingested, batch
            )
        except StoreError as exc:
            log.error(
                "database error while storing %d articles: %s (the next crawl redoes them)", len(batch), exc
            )
            stats.inc_value("newsmon/store_errors", len(batch))
            return
        stats.inc_value("newsmon/new_articles", new)
        stats.inc_value("newsmon/new_matches", matched)
