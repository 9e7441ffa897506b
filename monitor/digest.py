"""Digest selection, ranking and rendering: pure functions from items to a MIME message.

Everything in an item was scraped and is untrusted: the HTML template autoescapes, the text
template keeps each scraped string on one line, both drop bidi override characters, links
pass through `safe_url` (http(s) only), and templates run in Jinja's sandbox because users
may edit them.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from monitor.models import DigestItem
from monitor.topics import mark_text
from monitor.urls import is_http_url

# Installed from a wheel, the templates are package data (monitor/templates); from a clone (the
# editable install), the repository's templates/ (pyproject.toml maps the one onto the other).
_PACKAGED = Path(__file__).resolve().parent / "templates"
TEMPLATES = _PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parent.parent / "templates"
# A first digest reaches LOOKBACK back (no old backlog for a recipient added today); later ones
# reach LOOKBACK before the recipient's last digest that went out, so days of failed sends lose
# nothing. None reaches back more than MAX_BACKLOG: older unsent matches are logged, not mailed.
# An article published more than LOOKBACK before it was matched is not news (a feed added today
# whose items are from 2020): it is stored, but never in a digest.
LOOKBACK = timedelta(days=7)
MAX_BACKLOG = timedelta(days=30)


@dataclass(frozen=True)
class TopicGroup:
    topic: str
    items: tuple[DigestItem, ...]


@dataclass(frozen=True)
class Digest:
    recipient: str
    groups: tuple[TopicGroup, ...]
    generated: datetime
    failing_feeds: tuple[tuple[str, str], ...] = ()  # (feed, last error) for the footer

    @property
    def articles(self) -> list[str]:
        return [i.article_url for g in self.groups for i in g.items]

    def __len__(self) -> int:
        return sum(len(g.items) for g in self.groups)


def window_start(window_from: datetime | None, now: datetime) -> datetime:
    """Where a digest's selection of unsent matches starts, given where the recipient's window was
    left (LOOKBACK before its last digest that went out; None before its first)."""
    start = min(window_from, now - LOOKBACK) if window_from else now - LOOKBACK
    return max(start, now - MAX_BACKLOG)


def due_slot(at: time, timezone: str, now: datetime) -> datetime | None:
    """Today's digest time (the recipient's day) in UTC once it has passed, else None: before
    `at` nothing is due, not even yesterday's digest if it never went out (a recipient added
    this morning, or a newsmon down over midnight): today's takes everything unsent."""
    tz = ZoneInfo(timezone)
    local = now.astimezone(tz)
    slot = datetime.combine(local.date(), at, tzinfo=tz)
    return slot.astimezone(UTC) if slot <= local else None


def is_news(item: DigestItem) -> bool:
    """Whether an item belongs in a digest: its article was published (when the feed or page
    says) at most LOOKBACK before it was matched. The match window counts from when newsmon
    stored a match, so without this a feed added today would mail its years-old items as new."""
    return item.published is None or item.published >= item.matched_at - LOOKBACK


def build_digest(
    recipient: str,
    topics: tuple[str, ...],
    items: list[DigestItem],
    now: datetime,
    failing_feeds: tuple[tuple[str, str], ...] = (),
) -> Digest:
    """Each article once, under its best-scoring topic; topics in the recipient's order;
    within a topic the strongest match first, then the newest. Only news (`is_news`)."""
    by_article: dict[str, list[DigestItem]] = {}
    for item in items:
        if item.topic in topics and is_news(item):
            by_article.setdefault(item.article_url, []).append(item)
    chosen: dict[str, list[DigestItem]] = {t: [] for t in topics}
    for hits in by_article.values():
        best = max(hits, key=lambda i: (i.score, -topics.index(i.topic)))
        all_topics = tuple(t for t in topics if any(h.topic == t for h in hits))
        chosen[best.topic].append(replace(best, topics=all_topics))
    floor = datetime.min.replace(tzinfo=UTC)
    groups = tuple(
        TopicGroup(t, tuple(sorted(chosen[t], key=lambda i: (-i.score, -(i.published or floor).timestamp()))))
        for t in topics
        if chosen[t]
    )
    return Digest(recipient, groups, now, failing_feeds)


# ---------------------------------------------------------------- rendering


def safe_url(url: str) -> str:
    """Only http(s) links reach a mail; anything else (javascript:, data:, mailto:) becomes ''."""
    url = (url or "").strip()
    return url if is_http_url(url) else ""  # (a broken IPv6 host made urllib raise mid-render)


def highlight_html(snippet: str, highlights: tuple[tuple[int, int], ...]) -> Markup:
    out: list[str] = []
    pos = 0
    for start, end in sorted(highlights):
        if start < pos or end > len(snippet) or start >= end:
            continue
        out.append(str(escape(snippet[pos:start])))
        out.append(f"<mark>{escape(snippet[start:end])}</mark>")
        pos = end
    out.append(str(escape(snippet[pos:])))
    return Markup("".join(out))


# every line break str.splitlines() knows (email's set_content() breaks lines at the same ones)
_LINE_BREAKS = re.compile(r"[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x9f]")
# embedding, override and isolate controls: they make text read in another order than it is
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


def _plain(value: object) -> object:
    """Finalizer for the text template: a scraped string stays on its own line (no forged items,
    links or headers under an item) and loses control and bidi override characters."""
    if not isinstance(value, str):
        return value
    return _BIDI.sub("", _CONTROL.sub("", _LINE_BREAKS.sub(" ", value)))


def _html(value: object) -> object:
    """Finalizer for the HTML template: scraped strings lose bidi override characters (escaping
    comes after, and already-escaped Markup stays Markup)."""
    if isinstance(value, Markup):
        return Markup(_BIDI.sub("", value))
    return _BIDI.sub("", value) if isinstance(value, str) else value


@functools.cache
def _environment(autoescape: bool, templates: Path) -> SandboxedEnvironment:
    """One environment per kind and folder, so each template is compiled once per process."""
    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(templates)),
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_html if autoescape else _plain,
    )
    env.filters["safe_url"] = safe_url
    env.filters["highlight_html"] = lambda item: highlight_html(item.snippet, item.highlights)
    env.filters["highlight_text"] = lambda item: mark_text(item.snippet, item.highlights)
    env.filters["when"] = lambda d, tz="UTC": (
        d.astimezone(ZoneInfo(tz)).strftime("%d %b %Y %H:%M") if d else ""
    )
    return env


def render(digest: Digest, timezone: str = "UTC", templates: Path = TEMPLATES) -> tuple[str, str]:
    """(plain text, HTML) bodies of a digest."""
    context = {
        "digest": digest,
        "groups": digest.groups,
        "count": len(digest),
        "timezone": timezone,
        "failing_feeds": digest.failing_feeds,
    }
    text = _environment(False, templates).get_template("digest.txt.j2").render(context)
    html = _environment(True, templates).get_template("digest.html.j2").render(context)
    return text, html


def subject(digest: Digest) -> str:
    n = len(digest)
    topics = ", ".join(g.topic for g in digest.groups)
    return f"newsmon: {n} new article{'s' if n != 1 else ''} on {topics}"


def build_message(
    digest: Digest, sender: str, timezone: str = "UTC", templates: Path = TEMPLATES
) -> EmailMessage:
    text, html = render(digest, timezone, templates)
    msg = EmailMessage()
    msg["Subject"] = subject(digest)
    msg["From"] = sender
    msg["To"] = digest.recipient
    msg["Date"] = format_datetime(digest.generated)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "newsmon.localhost"
    msg["Message-ID"] = make_msgid("digest", domain=domain)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg
