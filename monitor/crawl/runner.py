"""Run one crawl in this process (the reactor starts once per process) and summarise it."""

from __future__ import annotations

import logging

# Imported here, near the bottom of the call stack, rather than by Scrapy while it builds the
# crawler: its module creates deprecated aliases with `inspect.stack()`, which reads the source of
# every frame on the stack (~100 there, ~0.2 s of a quiet re-crawl's CPU).
import scrapy.core.downloader.handlers.http11  # noqa: F401
from scrapy.crawler import CrawlerProcess

from monitor import gcpolicy
from monitor.config import Config
from monitor.crawl.settings import crawl_settings
from monitor.models import CrawlSummary
from monitor.store import Store, describe_error
from spiders.feeds import FeedsSpider


class _ShutdownVisible(logging.Filter):
    """Scrapy says "Received SIGINT, shutting down gracefully. Send again to force" at INFO,
    which the default WARNING level hides: a user pressing Ctrl-C should see that it is heard
    and that the requests in flight are being finished."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("Received %(signame)s"):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def run_crawl(
    config: Config, store: Store, feed_names: list[str] | None = None, log_level: str = "WARNING"
) -> CrawlSummary:
    gcpolicy.collect_less_often()  # a crawl allocates fast among long-lived objects
    settings = crawl_settings(config)
    settings.set("LOG_LEVEL", log_level, priority="cmdline")
    # Scrapy installs its own root handler at LOG_LEVEL; a second one (the CLI's) would echo its DEBUG
    for handler in logging.root.handlers[:]:
        logging.root.removeHandler(handler)
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(FeedsSpider)
    process.crawl(crawler, config=config, store=store, feeds=feed_names or None)
    # Scrapy lets the root logger pass everything (NOTSET), sets its own "scrapy" logger to DEBUG,
    # and filters in its handler, so every DEBUG call of Scrapy (two or three per article) and of
    # pymongo (which serialises each command for it) built a record that was then dropped. Filter
    # at the loggers instead; only now, since `crawl` resets the root logger to NOTSET.
    logging.root.setLevel(log_level)
    logging.getLogger("scrapy").setLevel(log_level)
    shutdown_log = logging.getLogger("scrapy.crawler")
    shutdown_log.setLevel(logging.INFO)  # its own records are lifted by the filter or dropped below
    shutdown_log.addFilter(_ShutdownVisible())
    process.start()
    stats = crawler.stats.get_stats()
    spider = crawler.spider
    # A second Ctrl-C stops the reactor under the engine: the spider was never closed and the
    # crawl has no finish reason. Close it here (running tasks end, queued ones are dropped, the
    # database call in progress completes), or the worker pool's semaphores leak at exit.
    forced = "finish_reason" not in stats
    if forced and spider is not None:
        spider.closed("forced")

    def n(key: str) -> int:
        return int(stats.get(f"newsmon/{key}", 0))

    return CrawlSummary(
        feeds_fetched=n("feeds_fetched"),
        feeds_not_modified=n("feeds_not_modified"),
        feeds_failed=n("feeds_failed"),
        new_articles=n("new_articles"),
        new_matches=n("new_matches"),
        articles_retry_later=n("articles_retry_later"),
        articles_feed_text=n("articles_feed_text"),
        articles_not_stored=n("store_errors"),
        interrupted=forced or stats.get("finish_reason") == "shutdown",
        database_lost=describe_error(spider.database_lost) if spider and spider.database_lost else "",
        not_started=spider.not_started if spider else "",
        failures=tuple(sorted(spider.failures.items())) if spider else (),
    )
