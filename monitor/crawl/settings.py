"""Scrapy settings: module-level defaults for `scrapy crawl feeds`, and the same built from a Config.

scrapy.cfg points Scrapy here; `newsmon crawl` calls `crawl_settings(config)`, which starts
from these defaults and applies the `crawl:` section of the config.
"""

from __future__ import annotations

import os

from scrapy.settings import Settings

from monitor.config import Config

BOT_NAME = "newsmon"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"
ROBOTSTXT_OBEY = True
TWISTED_REACTOR = None  # Twisted's default for the platform (epoll on Linux); see monitor/crawl/deferred.py
ITEM_PIPELINES = {"monitor.crawl.pipeline.IngestPipeline": 300}
# Only the components a feed crawler uses, given as Scrapy's *_BASE settings: a component
# disabled with `None` in the non-base dict is still imported (Scrapy loads every key), and
# RemoteControl alone pulls in aiohttp (~0.3 s of CPU on every crawl, most of a re-crawl).
# Left out: auth, proxies, cookies, HTTP cache, offsite filter (feeds and their articles may
# be on any host), telnet, feed export, spider state, memory debugger, remote control.
DOWNLOADER_MIDDLEWARES_BASE = {
    "monitor.crawl.middleware.CachedRobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.downloadtimeout.DownloadTimeoutMiddleware": 350,
    "scrapy.downloadermiddlewares.defaultheaders.DefaultHeadersMiddleware": 400,
    "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware": 500,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": 550,
    "monitor.crawl.middleware.RetryAfterMiddleware": 560,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": 580,
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": 590,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": 600,
    "scrapy.downloadermiddlewares.stats.DownloaderStats": 850,
}
DOWNLOADER_MIDDLEWARES: dict = {}
SPIDER_MIDDLEWARES_BASE = {
    "scrapy.spidermiddlewares.start.StartSpiderMiddleware": 25,
    "scrapy.spidermiddlewares.httperror.HttpErrorMiddleware": 50,
    "scrapy.spidermiddlewares.referer.RefererMiddleware": 700,  # redirects need it (Scrapy warns)
}
SPIDER_MIDDLEWARES: dict = {}
DOWNLOAD_HANDLERS_BASE = {
    "http": "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler",
    "https": "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler",
}
DOWNLOAD_HANDLERS: dict = {}
EXTENSIONS_BASE = {
    "scrapy.extensions.corestats.CoreStats": 0,
    "scrapy.extensions.logcount.LogCount": 0,
    "scrapy.extensions.memusage.MemoryUsage": 0,
    "scrapy.extensions.closespider.CloseSpider": 0,
    "scrapy.extensions.logstats.LogStats": 0,
    "scrapy.extensions.throttle.AutoThrottle": 0,
}
EXTENSIONS: dict = {}
REMOTE_CONTROL_ENABLED = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
HTTPCACHE_ENABLED = False
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 0
RETRY_TIMES = 2
REDIRECT_MAX_TIMES = 10  # Scrapy's 20 costs a feed stuck in a redirect loop 21 requests a crawl
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# Scrapy says ERROR "Gave up retrying <GET …>" for every request whose retries ran out; the spider
# reports each of those itself, in words (a feed that failed, an article kept for the next crawl),
# so Scrapy's line is only shown with -v.
RETRY_GIVE_UP_LOG_LEVEL = "INFO"
CONCURRENT_REQUESTS = 32
# Scrapy processes this many items of every response's output in parallel; ours is one item, or a
# feed's requests, which only get scheduled. Items of different responses still run concurrently.
CONCURRENT_ITEMS = 1
CONCURRENT_REQUESTS_PER_DOMAIN = 4
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.25
AUTOTHROTTLE_TARGET_CONCURRENCY = 4.0
LOG_LEVEL = os.environ.get("MONITOR_LOG_LEVEL", "INFO")
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"


def config_overrides(config: Config) -> dict:
    """The Scrapy settings that the config's `crawl:` section decides."""
    c = config.crawl
    return {
        "USER_AGENT": c.user_agent,
        "ROBOTSTXT_OBEY": c.obey_robots,
        "CONCURRENT_REQUESTS": c.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": c.per_site_concurrency,
        "DOWNLOAD_DELAY": c.delay.total_seconds(),
        "AUTOTHROTTLE_ENABLED": c.autothrottle,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(max(c.per_site_concurrency, 1)),
        "AUTOTHROTTLE_START_DELAY": c.delay.total_seconds(),
        "DOWNLOAD_TIMEOUT": c.timeout.total_seconds(),
        "RETRY_TIMES": c.retries,
        "DOWNLOAD_MAXSIZE": c.max_page_bytes,
        "NEWSMON_CONFIGURED": True,
    }


def crawl_settings(config: Config) -> Settings:
    settings = Settings()
    settings.setmodule(__name__, priority="project")
    settings.setdict(config_overrides(config), priority="cmdline")
    return settings
