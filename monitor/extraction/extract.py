"""HTML page (+ the feed entry that led to it) -> one clean ``ExtractedArticle``.

The page is decoded and parsed once; metadata, the body extractors and the cleanup all work on that
tree. The feed entry fills metadata gaps and replaces the page text when its own full text is longer
and says the same thing (some sites put the whole article in ``content:encoded`` and only a teaser,
or a paywall, on the page).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC

from lxml.html import HtmlElement, fragment_fromstring
from trafilatura.utils import load_html

from monitor.models import ExtractedArticle, FeedEntry

from .body import agreement, extract_body, html_to_text, shingles
from .cleanup import clean_text
from .encoding import decode_html
from .language import guess_language
from .metadata import PageMeta, normalize_language, read_metadata

__all__ = ["ExtractionError", "compile_selectors", "detect_language", "extract_article"]

_HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml", "text/plain")
_WORD = re.compile(r"\w+")
FEED_LONGER = 1.2  # the entry's text must be this much longer than the page's to replace it
FEED_COVERS = 0.6  # ... and hold this share of the page text's shingles (same article, not a teaser)
LD_BODY_AGREE = 0.9  # JSON-LD articleBody replaces the extracted text only when this close to it


class ExtractionError(ValueError):
    """The page holds no article text (or is not HTML)."""


def compile_selectors(selectors: Sequence[str]) -> list:
    """CSS selectors from the config as lxml XPath objects; ValueError names a bad one.

    Exposed so that config validation can reject a typo before the first crawl.
    """
    try:
        from lxml.cssselect import CSSSelector
    except ImportError as exc:  # cssselect is an optional lxml extra
        raise ValueError(
            "feeds[].extract.drop needs the 'cssselect' package (pip install cssselect)"
        ) from exc
    from cssselect import SelectorError

    compiled = []
    for selector in selectors:
        try:
            compiled.append(CSSSelector(selector))
        except SelectorError as exc:
            raise ValueError(f"invalid CSS selector {selector!r}: {exc}") from exc
    return compiled


def _drop(tree: HtmlElement, selectors: Sequence[str]) -> None:
    for selector in compile_selectors(selectors):
        for el in selector(tree):
            if el.getparent() is not None:
                el.drop_tree()  # keeps the element's tail text, which belongs to the parent


def detect_language(text: str) -> str:
    """ISO 639-1 code guessed from the text; "" when there is too little text to tell.

    Function words settle most texts in the languages newsmon stems; py3langid (about 100 MiB
    per process once loaded) is asked only about the rest."""
    if len(_WORD.findall(text)) < 5:
        return ""
    guessed = guess_language(text)
    if guessed:
        return guessed
    import py3langid  # lazy: loading its model costs ~0.3 s and ~100 MiB, paid only when needed

    lang, _ = py3langid.classify(text[:5000])
    return str(lang)


def _to_text(value: str | bytes, content_type: str | None) -> str:
    if content_type:
        mime = content_type.split(";", 1)[0].strip().lower()
        if mime and not mime.startswith(_HTML_TYPES):
            raise ExtractionError(f"not an HTML page: {mime}")
    text = decode_html(value, content_type) if isinstance(value, bytes) else value
    head = text[:4096]
    if head.count("\x00") > len(head) // 100:  # not one stray NUL from a CMS: a binary file
        raise ExtractionError("not an HTML page: binary content")
    return text.replace("\x00", "") if "\x00" in text else text


def _feed_text(entry: FeedEntry | None, title: Sequence[str]) -> str:
    if entry is None:
        return ""
    if entry.content_html.strip():
        root = fragment_fromstring(entry.content_html, create_parent="div")
        return clean_text(html_to_text(root), title=title)
    return clean_text(entry.content, title=title) if entry.content else ""


def _choose_text(page_text: str, meta: PageMeta, feed_text: str) -> str:
    text = page_text
    if meta.article_body and text:
        # The publisher's own plain body is free of page chrome; trust it only when it tells the same
        # story (some sites put a teaser or a different article there).
        body = clean_text(meta.article_body, title=meta.headlines)
        if agreement(shingles(body), shingles(text)) >= LD_BODY_AGREE:
            text = body if body.count("\n") >= text.count("\n") else text
    if feed_text:
        page_sh, feed_sh = shingles(text), shingles(feed_text)
        page_n, feed_n = sum(page_sh.values()), sum(feed_sh.values())
        covered = sum((page_sh & feed_sh).values()) / page_n if page_n else 1.0
        if not text or (feed_n >= FEED_LONGER * page_n and covered >= FEED_COVERS):
            text = feed_text
    return text


def extract_article(
    html: str | bytes,
    url: str,
    *,
    content_type: str | None = None,
    entry: FeedEntry | None = None,
    drop_selectors: tuple[str, ...] = (),
) -> ExtractedArticle:
    """Clean article text and metadata of one page; ExtractionError when it holds no article."""
    text = _to_text(html, content_type)
    tree = load_html(text) if text.strip() else None
    if tree is None:
        raise ExtractionError("empty or unparseable HTML")
    meta = read_metadata(tree, url)
    title = meta.title or (entry.title if entry else "")
    if drop_selectors:
        _drop(tree, drop_selectors)
    headlines = (title, *meta.headlines)
    body = clean_text(extract_body(tree), title=headlines)
    body = _choose_text(body, meta, _feed_text(entry, headlines))
    if not body.strip():
        raise ExtractionError("no article text found")

    published = meta.published or (entry.published if entry else None)
    if published is not None and published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    authors = meta.authors or ((entry.author,) if entry and entry.author else ())
    language = meta.language or normalize_language(entry.language if entry else "") or detect_language(body)
    return ExtractedArticle(
        url=url,
        title=title,
        text=body,
        authors=authors,
        published=published.astimezone(UTC) if published else None,
        language=language,
        image=meta.image,
        canonical_url=meta.canonical_url,
    )
