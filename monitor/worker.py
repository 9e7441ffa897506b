"""Entry points for the crawl's worker processes.

The crawl process itself only downloads and stores; importing the parsing, extraction and
matching stack there would cost every crawl (even a quiet re-crawl with nothing to parse) a
second of CPU. These functions are what the pool pickles; the heavy imports happen in the
worker.
"""

from __future__ import annotations

import zlib

from monitor import gcpolicy
from monitor.models import Article, FeedEntry, FetchedPage, ParsedFeed, TopicHit

_topics: tuple | None = None  # the crawl's topics, until the first article needs the matcher


def init(topics: tuple) -> None:
    """Keep the topics; the extraction stack and the matcher load with the first article, so a
    new worker parses the first feeds at once while the article pages are still downloading."""
    global _topics
    _topics = topics


def ready() -> None:
    """Nothing: submitted to start a worker process before there is work for it."""


def analyze(
    entry: FeedEntry, page: FetchedPage, drop: tuple[str, ...]
) -> tuple[Article, list[TopicHit], bytes | None]:
    """The article, its topic hits, and the page body zlib-compressed for storage (compressing
    here, in parallel, keeps that CPU off the crawl process)."""
    global _topics
    from monitor import ingest

    if _topics is not None:
        ingest.init_worker(_topics)
        _topics = None
        gcpolicy.keep_what_is_built()  # the matcher and the extraction stack live as long as the worker
    article, hits = ingest.analyze(entry, page, drop)
    return article, hits, zlib.compress(page.body, 6) if page.body is not None else None


def parse_feed(body: bytes, url: str, name: str, content_type: str | None, max_bytes: int) -> ParsedFeed:
    from monitor import feeds

    return feeds.parse_feed(body, url, name, content_type, max_bytes)
