"""Entry points for the crawl's worker processes.

The crawl process itself only downloads and stores; importing the parsing, extraction and
matching stack there would cost every crawl (even a quiet re-crawl with nothing to parse) a
second of CPU. These functions are what the pool pickles; the heavy imports happen in the
worker.
"""

from __future__ import annotations

from monitor.models import Article, FeedEntry, FetchedPage, ParsedFeed, TopicHit


def init(topics: tuple) -> None:
    from monitor import ingest

    ingest.init_worker(topics)


def analyze(entry: FeedEntry, page: FetchedPage, drop: tuple[str, ...]) -> tuple[Article, list[TopicHit]]:
    from monitor import ingest

    return ingest.analyze(entry, page, drop)


def parse_feed(body: bytes, url: str, name: str, content_type: str | None) -> ParsedFeed:
    from monitor import feeds

    return feeds.parse_feed(body, url, name, content_type)
