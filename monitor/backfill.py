"""A new or edited topic is applied to the articles already stored, once.

Matches are made as an article is stored, so a topic added to the config (or whose query or
keywords changed) would only ever match articles crawled from then on: its first digest would
say "nothing-new" while `topics test` finds this week's articles. So the store keeps, per topic
name, a signature of what decides its matching (its parsed query: case, accents, quote styles
and spacing are folded by the parser, the name's recipients play no part). A topic whose
signature is not the one recorded is matched against the articles stored in the last
`LOOKBACK` (the digest's own window), with the crawl's matcher; the matches it finds get
`matched_at` = now, so its recipients' next digest takes them (never an article a recipient
was already mailed: deliveries are per recipient and article).

The signature is recorded only after those matches are stored: a crawl that dies half-way
applies the topic again next time, and a match inserted twice is dropped by the unique index
on (article, topic). Existing matches are never removed. Free of Scrapy and Twisted: the crawl
calls this before it starts, and `digest` before it selects.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitor.models import Article, TopicHit
from monitor.store import Store
from monitor.topics import Document, Topic, TopicMatcher
from monitor.topics.query import Node

log = logging.getLogger(__name__)

BATCH = 200  # matches stored per round trip


@dataclass(frozen=True)
class TopicApplied:
    """A topic matched against the stored articles of the last `days` days."""

    topic: str
    change: str  # "new" (no signature recorded) or "edited" (another one recorded)
    articles: int  # articles matched against
    matches: int  # matches added (pairs matched before are kept as they were)
    days: int
    errors: int = 0  # articles the matcher failed on (logged each)

    def describe(self) -> str:
        what = "is new" if self.change == "new" else "was edited"
        line = (
            f"topic {self.topic!r} {what}: matched against {self.articles:,} articles of the last"
            f" {self.days} days: {self.matches:,} new match{'es' if self.matches != 1 else ''}"
        )
        if self.errors:
            line += f" ({self.errors:,} articles could not be matched: see the errors logged)"
        return line


def _canonical(value: object) -> str:
    """The query tree without what does not decide matching: a node's column, the text as typed."""
    if isinstance(value, Node):
        fields = [
            f"{f.name}={_canonical(getattr(value, f.name))}"
            for f in dataclasses.fields(value)
            if f.name not in ("column", "text")
        ]
        return f"{type(value).__name__}({','.join(fields)})"
    if isinstance(value, tuple):
        return f"({','.join(_canonical(v) for v in value)})"
    return repr(value)


def topic_signature(topic: Topic) -> str:
    """What decides a topic's matches, hashed: equal for `Kursk  AND “talks”` and `kursk "talks"`."""
    return hashlib.blake2b(_canonical(topic.root).encode("utf-8"), digest_size=16).hexdigest()


def changed_topics(topics: dict[str, Topic], recorded: dict[str, str]) -> list[tuple[Topic, str, str]]:
    """(topic, its signature, "new" or "edited") for each topic whose signature is not the one
    recorded under its name. Matches are stored under the name as written, so a topic renamed
    (even only in letter case) is a new one."""
    out = []
    for name in sorted(topics):
        signature = topic_signature(topics[name])
        if recorded.get(name) != signature:
            out.append((topics[name], signature, "edited" if name in recorded else "new"))
    return out


def apply_changed_topics(
    store: Store, topics: dict[str, Topic], *, lookback: timedelta | None = None
) -> list[TopicApplied]:
    """Apply each new or edited topic to the articles stored within `lookback` (the digest's
    LOOKBACK); one small query when nothing changed."""
    changed = changed_topics(topics, store.topic_signatures())
    if not changed:
        return []
    if lookback is None:
        from monitor.digest import LOOKBACK  # here: the crawl process has no other use for Jinja

        lookback = LOOKBACK
    now = datetime.now(UTC)
    matcher = TopicMatcher(tuple(topic for topic, _, _ in changed))
    scanned = errors = 0
    added: Counter[str] = Counter()
    pending: list[tuple[Article, list[TopicHit]]] = []
    for article in store.iter_articles(now - lookback):  # a cursor: fetched in batches
        scanned += 1
        try:
            hits = matcher.match(Document.of_article(article))
        except Exception:  # a matcher bug on one article: said, and the others still matched
            log.exception("matching %s against new or edited topics failed", article.url)
            errors += 1
            continue
        if hits:
            pending.append((article, hits))
        if len(pending) >= BATCH:
            added.update(store.add_matches(pending, now))
            pending.clear()
    added.update(store.add_matches(pending, now))
    applied = []
    for topic, signature, change in changed:  # only now: a crawl that died above does it again
        done = TopicApplied(topic.name, change, scanned, added[topic.name], lookback.days, errors)
        store.record_topic_signature(topic.name, signature, articles=scanned, matches=done.matches)
        log.info("%s", done.describe())
        applied.append(done)
    return applied
