"""The one pipeline: analyse (extract + match) in the worker processes, then store.

Results are written in batches (a few round trips per 50 articles, not five per article) on the
spider's database thread, so the reactor never waits on pymongo. Entries are marked done only after
their article and matches are stored, so a database that goes away mid-crawl loses nothing:
the next crawl redoes that batch.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

from scrapy.exceptions import DropItem

from monitor import worker
from monitor.crawl.items import ArticleItem
from monitor.models import Article, FeedEntry, FetchedPage, Ingested, TopicHit
from monitor.store import StoreError, describe_error

log = logging.getLogger(__name__)


BATCH_SIZE = 50  # articles per database round of writes
BATCH_SECONDS = 2.0  # or fewer, when they trickle in


class IngestPipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.buffer: list[Analysed] = []
        self.buffer_since = 0.0

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def close_spider(self, spider=None) -> None:
        await self.flush()  # the spider closes the workers and its database thread after this

    async def process_item(self, item, spider=None):
        if not isinstance(item, ArticleItem) or not item.entries:
            return item
        spider = spider or self.crawler.spider
        stats = self.crawler.stats
        entry, page = item.entries[0], item.page
        drop = spider.config.feed(entry.feed).extract_drop
        try:
            article, hits, page_zlib = await spider.workers.run(worker.analyze, entry, page, drop)
        except Exception as exc:  # a bug or a crash in a worker: report it, keep the entries pending
            log.exception("analysing %s failed", page.url)
            stats.inc_value("newsmon/analysis_errors")
            for e in spider.in_flight.pop(item.canonical, item.entries):  # retried by a later crawl, 3 times
                await spider.on_store(spider.store.mark_entry, e.feed, e.key, done=False, error=repr(exc))
            raise DropItem(f"analysis failed: {exc}") from exc
        stats.inc_value("newsmon/articles_processed")
        if article.source == "feed":
            stats.inc_value("newsmon/articles_from_feed_text")
        if not self.buffer:
            self.buffer_since = time.monotonic()
        size = len(page.body) if page.body is not None else 0
        self.buffer.append(
            Analysed(item.canonical, article, tuple(hits), replace(page, body=None), page_zlib, size)
        )
        if len(self.buffer) >= BATCH_SIZE or time.monotonic() - self.buffer_since > BATCH_SECONDS:
            await self.flush()
        return item

    async def flush(self) -> None:
        """Write the buffered articles in one batch, on the database thread.

        Each article is stored with every entry that has led to it so far; entries that join
        while the batch is being written are attached right after, and only then does the
        article leave `in_flight` (from then on a newcomer finds it in the database).
        """
        batch, self.buffer = self.buffer, []
        if not batch:
            return
        spider, stats = self.crawler.spider, self.crawler.stats
        entries = [list(spider.in_flight.get(a.canonical, ())) for a in batch]
        ingested = [_ingested(a, e) for a, e in zip(batch, entries, strict=True)]
        try:
            new, matched = await spider.on_store(spider.store.store_ingested, ingested)
            for analysed, stored, item in zip(batch, entries, ingested, strict=True):
                late = spider.in_flight.get(analysed.canonical, [])[len(stored) :]
                if late:
                    keys = [(e.feed, e.key) for e in late]
                    await spider.on_store(spider.store.attach_entries, item.article.url, keys)
        except StoreError as exc:
            if exc is spider.database_lost:  # reported once, as the crawl stops
                stats.inc_value("newsmon/store_errors", len(batch))
                return
            log.error(
                "database error while storing %d articles: %s (the next crawl redoes them)",
                len(batch),
                describe_error(exc),
            )
            stats.inc_value("newsmon/store_errors", len(batch))
            return
        finally:
            for analysed in batch:
                spider.in_flight.pop(analysed.canonical, None)
        stats.inc_value("newsmon/new_articles", new)
        stats.inc_value("newsmon/new_matches", matched)


@dataclass(frozen=True)
class Analysed:
    canonical: str
    article: Article
    hits: tuple[TopicHit, ...]
    page: FetchedPage  # without its body: that is kept compressed
    page_zlib: bytes | None
    page_size: int


def _ingested(analysed: Analysed, entries: list[FeedEntry]) -> Ingested:
    article, page = analysed.article, analysed.page
    return Ingested(
        article=replace(article, feeds=tuple(sorted({e.feed for e in entries} - {article.feed}))),
        hits=analysed.hits,
        entries=tuple((e.feed, e.key) for e in entries),
        page_url=page.url,
        page_status=page.status,
        page_type=page.content_type,
        page_zlib=analysed.page_zlib,
        page_size=analysed.page_size,
    )
