"""Politeness middlewares: honour Retry-After; keep robots.txt for a day."""

from __future__ import annotations

import email.utils
import logging
from datetime import UTC, datetime, timedelta

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
)
from scrapy.http import Request, Response
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler

from monitor.store import StoreError

log = logging.getLogger(__name__)
ROBOTS_TTL = timedelta(days=1)
# The longest wait a server can ask for: after it the feed is asked again (and it is reported as
# failing for a day by then), so a typo or a hostile header cannot silence a feed for years.
MAX_RETRY_AFTER = timedelta(days=1)


def retry_after(response: Response, now: datetime | None = None) -> datetime | None:
    """When the server asks us to come back (seconds or an HTTP date, at most MAX_RETRY_AFTER
    from now), or None when it does not say or says something unreadable."""
    if response.status not in (429, 503):
        return None
    raw = (response.headers.get(b"Retry-After") or b"").decode("latin-1").strip()
    now = now or datetime.now(UTC)
    if not raw:
        return None
    if raw.isascii() and raw.isdigit():  # isdigit alone also takes "²", which int() refuses
        longest = MAX_RETRY_AFTER.total_seconds()  # (and 10+ digits are more: no 4,300-digit int())
        return now + timedelta(seconds=min(int(raw), longest) if len(raw) < 10 else longest)
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return min(when, now + MAX_RETRY_AFTER)


class RetryAfterMiddleware:
    """Runs before Scrapy's RetryMiddleware (priority 560 > 550) and stops its immediate retry
    when the server says when to come back, or says 429 (too many requests) at all: asking
    again within the second is what it asked us not to do. The next crawl asks again."""

    def process_response(self, request: Request, response: Response, spider=None) -> Response:
        when = retry_after(response)
        if when is not None:
            request.meta["dont_retry"] = True
            request.meta["retry_after"] = when
        elif response.status == 429:
            request.meta["dont_retry"] = True
        return response


class _NetworkErrorInOneLine(logging.Filter):
    """Scrapy logs a robots.txt download that failed at ERROR with the traceback: some 80 lines for
    a refused connection, under the URL of the request that was waiting for it. A site that is
    down is routine for a monitor, and the feed or article is reported as failed anyway: one
    warning line stays, saying that it was robots.txt and what follows."""

    NETWORK = (
        DownloadConnectionRefusedError,
        CannotResolveHostError,
        DownloadTimeoutError,
        DownloadFailedError,
    )

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], self.NETWORK):
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            if isinstance(record.args, dict) and "request" in record.args and "f_exception" in record.args:
                record.msg = (
                    "robots.txt not downloaded for %(request)s (%(f_exception)s):"
                    " this crawl treats the site as having none"
                )
        return True


_ROBOTS_LOG_FILTER = _NetworkErrorInOneLine()


class CachedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """robots.txt as Scrapy obeys it, but fetched at most once a day per site.

    A monitor re-polls the same sites every half hour; re-downloading every robots.txt each
    time is most of a quiet re-crawl's requests. Like the big crawlers, keep it a day. Only
    answers that say something (200, or 4xx = no rules) are kept; a 5xx or a network error
    is not cached, so the next crawl asks again.
    """

    def __init__(self, crawler):
        super().__init__(crawler)
        logging.getLogger(RobotsTxtMiddleware.__module__).addFilter(_ROBOTS_LOG_FILTER)  # added once

    async def robot_parser(self, request: Request):
        netloc = urlparse_cached(request).netloc
        if netloc not in self._parsers:
            cached = self._store().robots_txt(netloc, ROBOTS_TTL)
            if cached is not None:
                self._parsers[netloc] = build_from_crawler(self._parserimpl, self.crawler, cached)
                self._stats.inc_value("newsmon/robots_cached")
        return await super().robot_parser(request)

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        if response.status < 500:
            body = response.body if response.status == 200 else b""
            try:
                self._store().save_robots_txt(netloc, body)
            except StoreError as exc:  # not cached: asked again next crawl
                log.warning("could not cache robots.txt of %s: %s", netloc, exc)
        await super()._parse_robots(response, netloc, request)

    def _store(self):
        return self.crawler.spider.store
