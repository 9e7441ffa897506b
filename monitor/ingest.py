"""Entry (+ fetched page) -> clean article -> topic hits: the CPU-heavy, pure part of a crawl.

Runs in worker processes (see monitor.crawl.pipeline), so its inputs and outputs are
plain picklable values and the topic matcher is compiled once per process.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from monitor.extraction import ExtractionError, detect_language, extract_article
from monitor.extraction.metadata import normalize_language
from monitor.models import Article, FeedEntry, FetchedPage, TopicHit
from monitor.topics import Document, Topic, TopicMatcher
from monitor.urls import canonical_url, is_http_url

log = logging.getLogger(__name__)


_matcher: TopicMatcher | None = None


def init_worker(topics: tuple[Topic, ...]) -> None:
    """Build the matcher once per process from the parsed topics of the validated config."""
    global _matcher
    _matcher = TopicMatcher(topics)


def _same_site(a: str, b: str) -> bool:
    def bare(u: str) -> str:
        host = (urlsplit(u).hostname or "").lower()
        return host[4:] if host.startswith("www.") else host

    return bare(a) == bare(b)


def choose_url(entry: FeedEntry, page: FetchedPage, declared_canonical: str) -> str:
    """The article's identity: <link rel=canonical> when it is a plausible article URL on the same
    site, else the URL after redirects, else the entry's link; always canonicalised."""
    fetched = page.url or entry.link
    if declared_canonical and is_http_url(declared_canonical) and _same_site(declared_canonical, fetched):
        path = urlsplit(declared_canonical).path
        if path not in ("", "/"):  # sites that point every page at their home page
            return canonical_url(declared_canonical)
    return canonical_url(fetched)


def is_html(page: FetchedPage) -> bool:
    ctype = page.content_type.split(";")[0].strip().lower()
    if ctype in ("text/html", "application/xhtml+xml"):
        return True
    if ctype:
        return False
    head = (page.body or b"")[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def build_article(entry: FeedEntry, page: FetchedPage, drop_selectors: tuple[str, ...] = ()) -> Article:
    """Extract the page; when that is impossible, keep the entry's own text, marked as such."""
    reason = page.error
    if page.body is not None and not reason:
        if not is_html(page):
            reason = f"not an HTML page ({page.content_type or 'no content type'})"
        else:
            try:
                got = extract_article(
                    page.body,
                    page.url,
                    content_type=page.content_type,
                    entry=entry,
                    drop_selectors=drop_selectors,
                )
                return Article(
                    url=choose_url(entry, page, got.canonical_url),
                    title=got.title or entry.title,
                    text=got.text,
                    feed=entry.feed,
                    source="page",
                    fetched_url=page.url,
                    authors=got.authors or ((entry.author,) if entry.author else ()),
                    published=got.published or entry.published,
                    language=got.language or entry.language,
                    image=got.image,
                )
            except ExtractionError as exc:
                reason = f"no article text in the page: {exc}"
    text = entry.content or entry.summary
    return Article(
        url=choose_url(entry, page, ""),
        title=entry.title,
        text=text,
        feed=entry.feed,
        source="feed",
        fetched_url=page.url,
        authors=(entry.author,) if entry.author else (),
        published=entry.published,
        language=normalize_language(entry.language) or detect_language(text),
        note=reason or "page not fetched",
    )


def match_article(article: Article) -> list[TopicHit]:
    if _matcher is None:
        raise RuntimeError("init_worker() was not called in this process")
    doc = Document(
        id=article.url, title=article.title, text=article.text, url=article.url, lang=article.language
    )
    return _matcher.match(doc)


def analyze(
    entry: FeedEntry, page: FetchedPage, drop_selectors: tuple[str, ...]
) -> tuple[Article, list[TopicHit]]:
    article = build_article(entry, page, drop_selectors)
    return article, match_article(article)
