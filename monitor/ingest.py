"""Entry (+ fetched page) -> clean article -> topic hits: the CPU-heavy, pure part of a crawl.

Runs in worker processes (see monitor.crawl.pipeline), so its inputs and outputs are
plain picklable values and the topic matcher is compiled once per process.
"""

from __future__ import annotations

import logging
import re
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


_TITLE_WORDS = re.compile(r"\w{3,}")


def same_story(entry_title: str, page_title: str) -> bool:
    """Whether two titles may name one story: one holds the other, or at least half the words
    of the shorter one are in the longer. Feed and page titles of one story differ in wording
    (a site name appended, a shortened headline) but rarely in their words; a cookie wall, a
    login page or a section front shares none with the story that led there."""
    a, b = entry_title.casefold().strip(), page_title.casefold().strip()
    if not a or not b or a in b or b in a:
        return True
    words_a, words_b = set(_TITLE_WORDS.findall(a)), set(_TITLE_WORDS.findall(b))
    if not words_a or not words_b:
        return True  # nothing to judge by
    return 2 * len(words_a & words_b) >= min(len(words_a), len(words_b))


def led_elsewhere(entry: FeedEntry, page: FetchedPage) -> bool:
    """The entry's link redirected to another page (not only to https or to www.)."""
    if not page.url or page.url == entry.link:
        return False
    moved, own = urlsplit(canonical_url(page.url)), urlsplit(canonical_url(entry.link))
    return (moved.path, moved.query) != (own.path, own.query)


def choose_url(entry: FeedEntry, page: FetchedPage, declared_canonical: str) -> str:
    """The article's identity: <link rel=canonical> when it is a plausible article URL on the same
    site, else the URL after redirects, else the entry's link; always canonicalised."""
    fetched = page.url or entry.link
    if declared_canonical and is_http_url(declared_canonical) and _same_site(declared_canonical, fetched):
        path = urlsplit(declared_canonical).path
        if path not in ("", "/") and not _section_of(path, urlsplit(fetched).path):
            return canonical_url(declared_canonical)
    return canonical_url(fetched)


def _section_of(canonical_path: str, page_path: str) -> bool:
    """A canonical link to a folder shallower than the page (`/news/` from `/news/2024/talks`)
    names a section front, not the article: sites that point every page of a section there
    would make all its stories one (as those pointing at their home page would)."""
    depth = len([p for p in canonical_path.split("/") if p])
    return canonical_path.endswith("/") and depth < len([p for p in page_path.split("/") if p])


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
                if entry.title and got.title and not same_story(entry.title, got.title):
                    if led_elsewhere(entry, page):  # a cookie wall, a login page, a home page
                        note = f"the link led to another page ({got.title!r})"
                        return _feed_article(entry, page, note, own_link=True)
                    canonical = ""  # the page is this story; a canonical link to elsewhere is not
                else:
                    canonical = got.canonical_url
                return Article(
                    url=choose_url(entry, page, canonical),
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
    return _feed_article(entry, page, reason)


def _feed_article(entry: FeedEntry, page: FetchedPage, reason: str, own_link: bool = False) -> Article:
    """The entry's own text; under its own link when the page it led to is another story's."""
    text = entry.content or entry.summary
    return Article(
        url=canonical_url(entry.link) if own_link else choose_url(entry, page, ""),
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
    return _matcher.match(Document.of_article(article))


def analyze(
    entry: FeedEntry, page: FetchedPage, drop_selectors: tuple[str, ...]
) -> tuple[Article, list[TopicHit]]:
    article = build_article(entry, page, drop_selectors)
    return article, match_article(article)
