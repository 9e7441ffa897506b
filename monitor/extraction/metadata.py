"""Article metadata from a parsed page: title, authors, date, language, canonical URL, image.

Publishers state the same fact in several places (JSON-LD, Open Graph, ``<meta>``, ``<time>``, the URL)
and each is missing or wrong somewhere, so every field is read from the most deliberate source first
and falls back to the next one.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement

__all__ = ["PageMeta", "parse_date", "read_metadata", "strip_site_suffix"]

_ARTICLE_TYPES = {
    "article",
    "newsarticle",
    "blogposting",
    "reportagenews",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "backgroundnewsarticle",
    "reviewnewsarticle",
    "techarticle",
    "scholarlyarticle",
    "liveblogposting",
    "socialmediaposting",
    "webpage",
}
_TITLE_SEPARATORS = re.compile(r"\s+(?:[|•·»:]|::|[-–—])\s+")
_URL_DATE = re.compile(r"/((?:19|20)\d{2})[/-]?(0[1-9]|1[0-2])[/-]?(0[1-9]|[12]\d|3[01])(?:[/_.-]|$)")
_LANG = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*$")
_SPACE = re.compile(r"\s+")


@dataclass
class PageMeta:
    """What the page says about itself; empty strings/None where it says nothing."""

    title: str = ""
    authors: tuple[str, ...] = ()
    published: datetime | None = None
    language: str = ""
    canonical_url: str = ""
    image: str = ""
    article_body: str = ""  # JSON-LD articleBody, used to cross-check the extracted text
    site_name: str = ""
    headlines: tuple[str, ...] = ()  # every form of the title the page gives (h1, og:title, ...)


def _clean(text: str | None) -> str:
    return _SPACE.sub(" ", text or "").strip()


def _json_ld_objects(tree: HtmlElement) -> Iterator[dict[str, Any]]:
    """Every JSON object in the page's ld+json scripts, @graph and lists flattened."""
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(script.text.strip().rstrip(";"))
        except ValueError:
            continue  # broken JSON-LD is common; the other sources still count
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            elif isinstance(item, dict):
                yield item
                graph = item.get("@graph")
                if isinstance(graph, list):
                    stack.extend(reversed(graph))


def _types(obj: dict[str, Any]) -> set[str]:
    t = obj.get("@type", "")
    values = t if isinstance(t, list) else [t]
    return {str(v).lower() for v in values}


def _ld_article(tree: HtmlElement) -> dict[str, Any]:
    """The page's article object: the first of an article type, an article beating a WebPage."""
    best: dict[str, Any] = {}
    for obj in _json_ld_objects(tree):
        types = _types(obj) & _ARTICLE_TYPES
        if not types:
            continue
        if types != {"webpage"}:
            return obj
        best = best or obj
    return best


def _names(value: Any) -> list[str]:
    """Person names from a JSON-LD author value (string, object, or list of either)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        name = value.get("name")
        return _names(name) if name else []
    if isinstance(value, list):
        return [n for v in value for n in _names(v)]
    return []


def _first_url(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _first_url(value.get("url") or value.get("contentUrl") or "")
    if isinstance(value, list) and value:
        return _first_url(value[0])
    return ""


def parse_date(value: str | None) -> datetime | None:
    """A UTC-aware datetime from an ISO-ish or human date string; naive times are taken as UTC."""
    value = _clean(value)
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        from dateutil import parser as date_parser  # lazy: rarely needed, a slow import

        try:
            with warnings.catch_warnings():
                # "EST" and other bare zone names: the time is still right to the hour or so.
                warnings.simplefilter("ignore", date_parser.UnknownTimezoneWarning)
                dt = date_parser.parse(value, fuzzy=False)
        except (ValueError, OverflowError):
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    if not 1990 <= dt.year <= 2100:
        return None
    return dt.astimezone(UTC)


def _date_from_url(url: str) -> datetime | None:
    m = _URL_DATE.search(urlsplit(url).path)
    if not m:
        return None
    try:
        day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _metas(tree: HtmlElement) -> dict[str, str]:
    """First value of each <meta name/property/itemprop>, keys lower-cased."""
    out: dict[str, str] = {}
    for meta in tree.iter("meta"):
        key = meta.get("property") or meta.get("name") or meta.get("itemprop") or meta.get("http-equiv")
        content = meta.get("content")
        if key and content and content.strip():
            out.setdefault(key.strip().lower(), content.strip())
    return out


def strip_site_suffix(title: str, site_names: tuple[str, ...] = (), *, generic: bool = False) -> str:
    """Drop " | Site", " - BBC News" and similar from a title.

    A segment is dropped when it names the site (og:site_name, the domain). With ``generic`` (for the
    ``<title>`` element, which nearly always carries the site) a short last segment goes too.
    """
    title = _clean(title)
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) < 2:
        return title
    names = {_norm(n) for n in site_names if n}

    def is_site(seg: str) -> bool:
        n = _norm(seg)
        return bool(n) and any(n == s or n in s or s in n for s in names if s)

    while len(parts) > 1 and is_site(parts[-1]):
        parts.pop()
    while len(parts) > 1 and is_site(parts[0]):
        parts.pop(0)
    if generic and len(parts) > 1 and len(parts[-1].split()) <= 3 and len(parts[0].split()) >= 3:
        parts.pop()
    # Rejoin with the separators that were there.
    if len(parts) == len(_TITLE_SEPARATORS.split(title)):
        return title
    start = title.find(parts[0])
    end = title.rfind(parts[-1]) + len(parts[-1])
    return title[start:end].strip() if start >= 0 and end > start else " ".join(parts)


def _norm(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


def _site_names(metas: dict[str, str], url: str) -> tuple[str, ...]:
    names = [metas.get("og:site_name", ""), metas.get("application-name", ""), metas.get("twitter:site", "")]
    host = urlsplit(url).hostname or ""
    labels = [
        label for label in host.split(".") if label not in {"www", "m", "amp", "com", "co", "org", "net"}
    ]
    if labels:
        names.append(max(labels, key=len))
    names.append(host.removeprefix("www."))
    return tuple(n.lstrip("@") for n in names if n)


def _title(tree: HtmlElement, metas: dict[str, str], ld: dict[str, Any], sites: tuple[str, ...]) -> str:
    head = tree.find(".//title")
    page_title = _clean(head.text_content()) if head is not None else ""
    h1s = [_clean(h.text_content()) for h in tree.iter("h1")]
    for candidate in (ld.get("headline"), metas.get("og:title"), metas.get("twitter:title")):
        if isinstance(candidate, str) and _clean(candidate):
            return strip_site_suffix(candidate, sites)
    # An <h1> that the <title> contains is the headline without the site name.
    for h1 in h1s:
        if h1 and _norm(h1) in _norm(page_title):
            return h1
    if page_title:
        return strip_site_suffix(page_title, sites, generic=True)
    return next((h for h in h1s if h), "")


def _authors(tree: HtmlElement, metas: dict[str, str], ld: dict[str, Any]) -> tuple[str, ...]:
    names = _names(ld.get("author"))
    if not names:
        for key in ("author", "article:author", "dc.creator", "byl", "parsely-author", "sailthru.author"):
            value = metas.get(key, "")
            if value and not value.startswith(("http://", "https://")):
                names = re.split(r"\s*(?:,|;|\band\b)\s*", value.removeprefix("By ").removeprefix("by "))
                break
    if not names:
        for el in tree.xpath('//*[@rel="author" or @itemprop="author" or contains(@class, "author")]')[:5]:
            text = _clean(el.text_content())
            if text and len(text.split()) <= 5:
                names = [text]
                break
    out: list[str] = []
    for name in names:
        name = _clean(re.sub(r"^(?i:by)\s+", "", name))
        if name and name not in out and len(name) <= 80:
            out.append(name)
    return tuple(out)


def _published(tree: HtmlElement, metas: dict[str, str], ld: dict[str, Any], url: str) -> datetime | None:
    candidates: list[Any] = [ld.get("datePublished"), ld.get("dateCreated")]
    candidates += [
        metas.get(k)
        for k in (
            "article:published_time",
            "og:published_time",
            "datepublished",
            "pubdate",
            "publishdate",
            "publish-date",
            "date",
            "dc.date.issued",
            "dc.date",
            "dcterms.created",
            "sailthru.date",
            "parsely-pub-date",
            "article.published",
            "published_time",
        )
    ]
    for time_el in tree.iter("time"):
        candidates.append(time_el.get("datetime"))
    for value in candidates:
        if isinstance(value, str) and (dt := parse_date(value)):
            return dt
    return _date_from_url(url)


def normalize_language(value: str | None) -> str:
    """ "en-US" -> "en"; "" for anything that is not a language tag."""
    m = _LANG.match((value or "").strip())
    return m.group(1).lower() if m else ""


def _language(tree: HtmlElement, metas: dict[str, str], ld: dict[str, Any]) -> str:
    in_language = ld.get("inLanguage")
    for value in (
        tree.get("lang"),
        tree.get("{http://www.w3.org/XML/1998/namespace}lang"),
        metas.get("content-language"),
        metas.get("language"),
        metas.get("og:locale"),
        in_language if isinstance(in_language, str) else None,
    ):
        if lang := normalize_language(value):
            return lang
    return ""


def _absolute(base: str, link: str | None) -> str:
    link = (link or "").strip()
    if not link or link.startswith(("data:", "javascript:")):
        return ""
    try:
        return urljoin(base, link)
    except ValueError:
        return ""


def read_metadata(tree: HtmlElement, url: str) -> PageMeta:
    """Read every metadata field from an already-parsed page (the tree is not modified)."""
    metas = _metas(tree)
    ld = _ld_article(tree)
    base_el = tree.find(".//base[@href]")
    base = _absolute(url, base_el.get("href")) if base_el is not None else url
    sites = _site_names(metas, url)

    canonical = ""
    for link in tree.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
            canonical = _absolute(base, link.get("href"))
            break
    canonical = canonical or _absolute(base, metas.get("og:url"))

    image = _absolute(base, metas.get("og:image") or metas.get("og:image:url") or metas.get("twitter:image"))
    image = image or _absolute(base, _first_url(ld.get("image")))
    if not image:
        img = tree.find(".//article//img[@src]")
        image = _absolute(base, img.get("src")) if img is not None else ""

    body = ld.get("articleBody")
    title = _title(tree, metas, ld, sites)
    head = tree.find(".//title")
    forms = [title, ld.get("headline"), metas.get("og:title"), metas.get("twitter:title")]
    forms += [h.text_content() for h in tree.iter("h1")]
    forms.append(strip_site_suffix(head.text_content(), sites, generic=True) if head is not None else "")
    headlines = tuple(dict.fromkeys(_clean(f) for f in forms if isinstance(f, str) and _clean(f)))
    return PageMeta(
        title=title,
        headlines=headlines,
        authors=_authors(tree, metas, ld),
        published=_published(tree, metas, ld, url),
        language=_language(tree, metas, ld),
        canonical_url=canonical,
        image=image,
        article_body=body.strip() if isinstance(body, str) else "",
        site_name=metas.get("og:site_name", ""),
    )
