"""The one pipeline: analyse (extract + match) in a process pool, then store.

Extraction and matching are CPU-bound, so they run in worker processes sized to the cores
while the reactor keeps downloading; pymongo calls run in a thread so the reactor never
waits on the database. Entries are marked done only after their article and matches are
stored, so a database that goes away mid-crawl loses nothing: the next crawl retries.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor

from scrapy.exceptions import DropItem

from monitor.crawl.items import ArticleItem
from monitor.ingest import analyze, init_worker
from monitor.models import Article, TopicHit
from monitor.store import Store, StoreError

log = logging.getLogger(__name__)


def worker_count() -> int:
    env = os.environ.get("MONITOR_WORKERS")
    return int(env) if env else (os.cpu_count() or 1)


class IngestPipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.pool: Executor | None = None
        self.io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsmon-store")

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def open_spider(self, spider=None) -> None:
        spider = spider or self.crawler.spider
        topics = tuple(spider.config.topics.values())
        workers = worker_count()
        if workers > 0:
            context = multiprocessing.get_context("forkserver")
            self.pool = ProcessPoolExecutor(
                workers, mp_context=context, initializer=init_worker, initargs=(topics,)
            )
        else:  # in-process, for debugging
            init_worker(topics)
            self.pool = ThreadPoolExecutor(max_workers=1)

    def close_spider(self, spider=None) -> None:
        if self.pool:
            self.pool.shutdown(wait=True, cancel_futures=True)
        self.io.shutdown(wait=True)

    async def process_item(self, item, spider=None):
        if not isinstance(item, ArticleItem) or not item.entries:
            return item
        spider = spider or self.crawler.spider
        stats = self.crawler.stats
        entry = item.entries[0]
        drop = spider.config.feed(entry.feed).extract_drop
        loop = asyncio.get_running_loop()
        try:
            article, hits = await loop.run_in_executor(self.pool, analyze, entry, item.page, drop)
        except Exception as exc:  # a bug or a crash in a worker: report it, keep the entries pending
            log.exception("analysing %s failed", item.page.url)
            stats.inc_value("newsmon/analysis_errors")
            raise DropItem(f"analysis failed: {exc}") from exc
        try:
            new, matched = await loop.run_in_executor(self.io, self._store, spider.store, item, article, hits)
        except StoreError as exc:
            log.error("database error while storing %s: %s (will retry next crawl)", article.url, exc)
            stats.inc_value("newsmon/store_errors")
            raise DropItem(f"not stored: {exc}") from exc
        stats.inc_value("newsmon/articles_processed")
        if article.source == "feed":
            stats.inc_value("newsmon/articles_from_feed_text")
        if new:
            stats.inc_value("newsmon/new_articles")
        stats.inc_value("newsmon/new_matches", matched)
        return item

    @staticmethod
    def _store(store: Store, item: ArticleItem, article: Article, hits: list[TopicHit]) -> tuple[bool, int]:
        page = item.page
        if page.body is not None:
            store.store_page(page.url, page.status, page.content_type, page.body)
        new = store.store_article(article)
        matched = store.store_matches(article, hits)  # idempotent: also completes a crashed earlier try
        for entry in item.entries:
            if entry.feed != article.feed:
                store.add_article_feed(article.url, entry.feed)
            store.mark_entry(entry.feed, entry.key, done=True, article=article.url)
        return new, matched
