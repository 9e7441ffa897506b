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
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
ITEM_PIPELINES = {"monitor.crawl.pipeline.IngestPipeline": 300}
DOWNLOADER_MIDDLEWARES = {
    "monitor.crawl.middleware.RetryAfterMiddleware": 560,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "monitor.crawl.middleware.CachedRobotsTxtMiddleware": 100,
    # Every component costs start-up imports and a call per request: keep only what a feed
    # crawler uses (no auth, proxies, cookies or cache; feeds and their articles may be on
    # any host, so no offsite filter).
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware": None,
    "scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware": None,
    "scrapy.downloadermiddlewares.httpcache.HttpCacheMiddleware": None,
}
SPIDER_MIDDLEWARES = {
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
}
DOWNLOAD_HANDLERS = {"s3": None, "ftp": None, "file": None, "data": None}
EXTENSIONS = {
    "scrapy.extensions.telnet.TelnetConsole": None,
    "scrapy.extensions.memdebug.MemoryDebugger": None,
    "scrapy.extensions.feedexport.FeedExporter": None,
    "scrapy.extensions.spiderstate.SpiderState": None,
    "scrapy.extensions.remote_control.RemoteControl": None,
}
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
HTTPCACHE_ENABLED = False
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 0
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
CONCURRENT_REQUESTS = 32
# Scrapy starts this many tasks for every response's output; ours is one item or a feed's requests
CONCURRENT_ITEMS = 8
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
