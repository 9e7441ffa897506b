"""Feed documents (RSS 0.9x/1.0/2.0, Atom) to typed entries, with feedparser.

feedparser already recovers from most real-world breakage (wrong charsets, unescaped
ampersands, truncated documents); this module decides what counts as a usable feed,
makes links absolute and turns entry HTML into plain text once.
"""

from __future__ import annotations

import calendar
import codecs
import functools
import html
import re
import xml.sax
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from types import ModuleType
from typing import Any
from urllib.parse import urljoin, urlsplit

from monitor.gzipped import GzipError, gunzip
from monitor.models import FeedEntry, ParsedFeed
from monitor.urls import canonical_url, is_http_url

FAILING_FOR = timedelta(days=1)  # a feed failing longer is an error in the log and named in digests
MAX_FEED_BYTES = 10 * 1024 * 1024  # crawl.max_page_size's default


class FeedError(ValueError):
    """The document is not a feed we can read (the message says why)."""


_TAGS = re.compile(r"<[^>]+>")
_BLOCK_TAGS = re.compile(r"</?(p|div|br|li|h[1-6]|blockquote|tr)\b[^>]*>", re.IGNORECASE)
_SPACE = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANKS = re.compile(r"\n\s*\n+")


def html_to_text(fragment: str) -> str:
    """Plain text of a feed's HTML fragment (summary, content:encoded); block tags become newlines."""
    if not fragment:
        return ""
    text = _BLOCK_TAGS.sub("\n", fragment)
    text = html.unescape(_TAGS.sub("", text))
    lines = (_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def _when(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), UTC)
            except (ValueError, OverflowError, OSError):  # feedparser read a date like year -1
                continue
    return None


def _absolute(link: str, base: str) -> str:
    link = (link or "").strip()
    if not link:
        return ""
    try:
        absolute = urljoin(base, link)
    except ValueError:  # not a URL at all (e.g. a broken IPv6 host, "//]"): the entry has no link
        return ""
    if not is_http_url(absolute):  # nor has it with a port like ":abc"
        return ""
    # nor with user:password@, which no news link needs (and Scrapy's robots.txt check chokes on)
    return "" if "@" in urlsplit(absolute).netloc else absolute


# A numeric character reference to no character (a lone surrogate, beyond U+10FFFF) makes
# feedparser's lenient parser raise; it becomes U+FFFD, as an HTML parser would make it.
_CHARREF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")


def _charref(m: re.Match[bytes]) -> bytes:
    digits = m[1] or m[2]
    if len(digits.lstrip(b"0")) > 7:  # beyond U+10FFFF either way (and no huge int() to parse)
        return b"&#xFFFD;"
    code = int(digits, 16 if m[1] is not None else 10)
    return m[0] if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else b"&#xFFFD;"


def _start_media_description(parser: Any, attrs_d: dict[str, str]) -> None:
    parser.push_content("media_description", attrs_d, "text/plain", 1)


def _end_media_description(parser: Any) -> None:
    parser.pop_content("media_description")


@functools.cache
def _feedparser() -> ModuleType:
    """feedparser, told to keep <media:description> (a photo or video caption) to itself.

    feedparser reads it as one more <description>: after the item's own it files the caption
    as the entry's text/plain content (which then beat the summary: NYT, Le Monde), after
    content:encoded it replaces the summary, before <description> it becomes the summary.
    Here it lands in the entry's `media_description` and touches neither. The handlers are set
    on feedparser's parser mixin, the one place its per-element handlers are looked up.
    """
    import feedparser
    from feedparser.mixin import _FeedParserMixin

    _FeedParserMixin._start_media_description = _start_media_description  # type: ignore[attr-defined]
    _FeedParserMixin._end_media_description = _end_media_description  # type: ignore[attr-defined]
    return feedparser


_LINKS = re.compile(r"<a\b[^>]*>.*?</a\s*>", re.IGNORECASE | re.DOTALL)


def _summary(entry: Any) -> str:
    """The entry's description, unless it holds no text but links: then its media caption.

    El Mundo's <description> is only a "Leer" link to the article and its lead is in
    <media:description>; NYT's and Le Monde's descriptions are the story and theirs a photo
    caption. A video feed's only text is its media description.
    """
    own = entry.get("summary") or ""
    if html_to_text(_LINKS.sub("", own)):
        return own
    caption = entry.get("media_description") or ""
    return caption if isinstance(caption, str) and html_to_text(caption) else own


def _content(entry: Any) -> str:
    """The longest full-text body the entry carries (content:encoded, Atom content)."""
    bodies = [c.get("value", "") for c in entry.get("content", []) if "html" in c.get("type", "text/html")]
    bodies += [c.get("value", "") for c in entry.get("content", []) if c.get("type") == "text/plain"]
    return max(bodies, key=len, default="")


def _gunzip(body: bytes, max_bytes: int) -> bytes:
    """A feed served as a .gz file (not with Content-Encoding, which Scrapy decodes and limits)."""
    try:
        return gunzip(body, max_bytes)
    except GzipError as exc:
        if exc.too_large:
            raise FeedError(
                f"the gzip-compressed feed is larger than crawl.max_page_size ({max_bytes} bytes)"
                " once decompressed"
            ) from None
        raise FeedError(f"the compressed feed is {exc}") from None


# What the XML parser says of a document that ends before its root element does (its other
# complaints, such as an undefined entity, leave the document whole; feedparser reads on)
_CUT_SHORT = re.compile(r"no element found|unclosed token|unclosed CDATA section")


_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)


def _line(exc: xml.sax.SAXParseException, body: bytes) -> int:
    """The document's line where the XML parser stopped: feedparser puts a line with an XML
    declaration before a document that begins without one, so its count is one ahead there."""
    head = body[:64]
    for bom, codec in _BOMS:
        if head.startswith(bom):
            text = head[len(bom) :].decode(codec, "replace")
            break
    else:
        text = head.decode("latin-1")
    return max(1, exc.getLineNumber() - (0 if text.startswith("<?xml") else 1))


def _parser_complaint(exc: BaseException, body: bytes) -> str:
    """What the parser found wrong, in words: the XML parser's message with its line (not
    "SAXParseException: <unknown>:19:84: ..."), feedparser's own notes as they are."""
    if isinstance(exc, xml.sax.SAXParseException):
        return f"line {_line(exc, body)}: {exc.getMessage()}"
    text = str(exc).strip()
    if type(exc).__module__.startswith("feedparser") and text:
        return text  # "document declared as utf-8, but parsed as ISO-8859-1"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _unreadable(exc: BaseException, body: bytes, what: str) -> str:
    """Why a document the XML parser gave up on yielded nothing, and at which line."""
    if isinstance(exc, xml.sax.SAXParseException):
        how = "ends early" if _CUT_SHORT.search(exc.getMessage()) else "is malformed"
        return f"{what} {how} at line {_line(exc, body)}: {exc.getMessage()}"
    return _parser_complaint(exc, body)


_HTML_START = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b",
    re.IGNORECASE | re.DOTALL,
)
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")


class _FeedLinks(HTMLParser):
    """The <link rel="alternate" type="application/rss+xml|atom+xml"> hrefs of a page's head."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "link":
            return
        a = {k: (v or "") for k, v in attrs}
        rel = a.get("rel", "").lower().split()
        if "alternate" in rel and a.get("type", "").split(";")[0].strip().lower() in _FEED_TYPES:
            self.hrefs.append(a.get("href", ""))


def _not_a_feed_page(body: bytes, url: str, content_type: str) -> str:
    """For an HTML page given as a feed (a site's home or article URL pasted in the config): say
    so, and name the feed the page links to, if it does (not followed: the user chooses)."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype not in ("text/html", "application/xhtml+xml") and not _HTML_START.match(body[:4096]):
        return ""
    finder = _FeedLinks()
    head = body[: 256 * 1024]
    end = head.lower().find(b"</head")
    finder.feed((head if end < 0 else head[:end]).decode("utf-8", "replace"))
    found = (_absolute(href, url) for href in finder.hrefs)
    links = list(dict.fromkeys(link for link in found if link and link != url))  # not itself
    advice = "look for the page's RSS or Atom link and give that URL"
    if links:
        more = f" and {len(links) - 1} more" if len(links) > 1 else ""
        advice += f" (the page names {links[0][:300]}{more})"
    return f"the URL serves an HTML page, not a feed: {advice}"


_CHARSET_PARAM = re.compile(r";\s*charset\s*=[^;]*", re.IGNORECASE)


def _utf8_if_mislabelled(body: bytes, content_type: str) -> str:
    """The content type, told UTF-8 when the header or the XML declaration names a single-byte
    charset for a body that is UTF-8 (a site moved to UTF-8 and kept its old label): feedparser
    would decode it as that charset without complaint, as mojibake."""
    from monitor.extraction.encoding import (
        declared_charset,
        normalize_charset,
        utf8_despite,
        xml_declared_charset,
    )

    for label in (declared_charset(content_type), xml_declared_charset(body)):
        if utf8_despite(body, normalize_charset(label)):
            return _CHARSET_PARAM.sub("", content_type) + "; charset=utf-8"
    return content_type


def parse_feed(
    body: bytes, url: str, name: str, content_type: str | None = None, max_bytes: int = MAX_FEED_BYTES
) -> ParsedFeed:
    """Parse a fetched feed body; raise FeedError when nothing usable is in it."""
    if body[:2] == b"\x1f\x8b":  # served as a .gz file rather than with Content-Encoding
        body = _gunzip(body, max_bytes)
    # Without a content type feedparser flags every document; XML rules then apply to the charset.
    content_type = _utf8_if_mislabelled(body, content_type or "application/xml")
    headers = {"content-location": url, "content-type": content_type}
    feedparser = _feedparser()  # here: the crawl process needs this module's errors, not the parser

    if b"&#" in body:
        body = _CHARREF.sub(_charref, body)
    try:
        parsed = feedparser.parse(body, response_headers=headers, resolve_relative_uris=True)
    except Exception as exc:  # feedparser's own bugs on some malformed documents (found by fuzzing)
        raise FeedError(f"the feed parser failed on this document ({type(exc).__name__}: {exc})") from None
    warning = ""
    complete = True
    if parsed.get("bozo"):
        warning = _parser_complaint(parsed.bozo_exception, body)
        complete = not _CUT_SHORT.search(str(parsed.bozo_exception))
    if not parsed.get("version") and not parsed.entries:
        if not body.strip():
            raise FeedError("not a feed: the document is empty")
        page = _not_a_feed_page(body, url, content_type)
        if page:
            raise FeedError(page)
        reason = "no RSS, RDF or Atom root element"
        if warning:
            reason = _unreadable(parsed.bozo_exception, body, "the document")
        raise FeedError(f"not a feed: {reason}")
    feed_lang = (parsed.feed.get("language") or "").split("-")[0].lower()
    usable: list[tuple[Any, str, str]] = []  # (entry, link, guid)
    for raw in parsed.entries:
        # FeedBurner's original link beats its redirect; a broken one falls back to <link>
        link = _absolute(raw.get("feedburner_origlink", ""), url) or _absolute(raw.get("link", ""), url)
        if not link:  # RSS 0.91 items may carry the link only in guid
            guid = raw.get("id", "")
            link = _absolute(guid, url) if guid.startswith(("http://", "https://", "/")) else ""
        if link:
            usable.append((raw, link, (raw.get("id") or "").strip()))
    # A guid is the entry's identity, unless the feed gives it to entries with other links (some
    # CMSs give every entry the site's address): then each of those is known by its link.
    links_of: dict[str, set[str]] = {}
    for _, link, guid in usable:
        if guid:
            links_of.setdefault(guid, set()).add(canonical_url(link))
    entries: list[FeedEntry] = []
    seen: set[str] = set()
    for raw, link, guid in usable:
        key = guid if guid and len(links_of[guid]) == 1 else link
        if key in seen:
            continue
        seen.add(key)
        content_html = _content(raw)
        entries.append(
            FeedEntry(
                feed=name,
                key=key,
                link=link,
                title=html_to_text(raw.get("title", "")),
                summary=html_to_text(_summary(raw)),
                content=html_to_text(content_html),
                content_html=content_html,
                author=raw.get("author", ""),
                published=_when(raw),
                language=feed_lang,
            )
        )
    if not entries and parsed.get("bozo"):
        raise FeedError(f"no entries could be read: {_unreadable(parsed.bozo_exception, body, 'the feed')}")
    return ParsedFeed(
        title=html_to_text(parsed.feed.get("title", "")),
        entries=tuple(entries),
        language=feed_lang,
        warning=warning,
        complete=complete,
        without_link=len(parsed.entries) - len(usable),
    )
