"""Value objects that move between the stages: feed -> entry -> article -> match -> digest.

Frozen dataclasses so a stage cannot change what an earlier stage produced, and so the
core can be tested without Scrapy, Twisted or MongoDB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed, as the feed described it (links already absolute)."""

    feed: str  # configured feed name
    key: str  # stable identity within the feed: guid/id, else the link
    link: str  # absolute article URL as the feed gave it
    title: str = ""
    summary: str = ""  # plain text of the entry's summary
    content: str = ""  # plain text of the entry's full content (content:encoded), if any
    content_html: str = ""  # the same as HTML, for extraction when it beats the page
    author: str = ""
    published: datetime | None = None  # UTC
    language: str = ""
    attempts: int = 0  # crawls that tried this entry's article and failed (as stored)


@dataclass(frozen=True)
class FetchedPage:
    """What the crawler got for an entry's link; body is None when the fetch failed."""

    url: str  # after redirects
    status: int = 0
    content_type: str = ""
    body: bytes | None = None
    error: str = ""


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    entries: tuple[FeedEntry, ...]
    language: str = ""
    warning: str = ""  # feedparser's bozo message when it recovered from bad markup
    # False when the document ends early (cut short in transit): it parses, minus its last entries
    complete: bool = True
    without_link: int = 0  # entries skipped for want of an http(s) link to follow


@dataclass(frozen=True)
class ExtractedArticle:
    """What extraction makes of a page (or of the entry when the page failed)."""

    url: str
    title: str
    text: str
    authors: tuple[str, ...] = ()
    published: datetime | None = None  # UTC
    language: str = ""
    image: str = ""
    canonical_url: str = ""


@dataclass(frozen=True)
class Article:
    """A clean article as stored: one per canonical URL."""

    url: str  # canonical URL, the identity
    title: str
    text: str
    feed: str
    source: str  # "page" (extracted from the fetched page) or "feed" (the entry's own text)
    fetched_url: str = ""
    authors: tuple[str, ...] = ()
    published: datetime | None = None
    language: str = ""
    image: str = ""
    feeds: tuple[str, ...] = ()
    note: str = ""  # why the feed text was used, when it was


@dataclass(frozen=True)
class TopicHit:
    """A topic matched an article: what matched, where, how strongly."""

    topic: str
    terms: tuple[str, ...]  # the words/phrases of the article that matched
    snippet: str  # plain text around the strongest hit
    highlights: tuple[tuple[int, int], ...] = ()  # (start, end) offsets of hits inside snippet
    score: float = 0.0


@dataclass(frozen=True)
class Ingested:
    """One crawled article ready to store: the page as fetched, what it became, what it matched."""

    article: Article
    hits: tuple[TopicHit, ...]
    entries: tuple[tuple[str, str], ...]  # (feed, entry key) of every entry that led here
    page_url: str = ""
    page_status: int = 0
    page_type: str = ""
    page_zlib: bytes | None = None  # the page as fetched, zlib-compressed; None when not fetched
    page_size: int = 0  # its uncompressed size


@dataclass(frozen=True)
class DigestItem:
    """One article in a digest, under the topic it matched best."""

    article_url: str
    title: str
    feed: str
    published: datetime | None
    topic: str
    topics: tuple[str, ...]
    snippet: str
    highlights: tuple[tuple[int, int], ...]
    score: float
    matched_at: datetime


@dataclass(frozen=True)
class CrawlSummary:
    feeds_fetched: int = 0
    feeds_not_modified: int = 0
    feeds_failed: int = 0
    new_articles: int = 0
    new_matches: int = 0
    articles_retry_later: int = 0  # pages that failed for now; the next crawl asks again
    articles_feed_text: int = 0  # pages that failed for good (404, robots.txt, too large): feed text kept
    articles_not_stored: int = 0  # analysed, but the database refused them; the next crawl redoes them
    interrupted: bool = False  # stopped by Ctrl-C or SIGTERM before it finished
    database_lost: str = ""  # why the crawl stopped early: the database could not be reached
    not_started: str = ""  # why it made no request at all: another crawl holds the store
    failures: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (feed, error)
