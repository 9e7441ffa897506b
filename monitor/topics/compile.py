"""Topic configuration (keywords or a query) -> a validated `Topic`, ready for a matcher."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.topics.query import Node, Or, QueryError, keyword_phrase, parse


@dataclass(frozen=True)
class Topic:
    """A named, parsed topic. Matching structures are built by `TopicMatcher`, once per set."""

    name: str
    root: Node
    source: str  # the query, or the keywords joined with " | ", for messages


def compile_topic(name: str, *, keywords: list[str] | None = None, query: str | None = None) -> Topic:
    """Parse one topic; any phrase of `keywords` matches, or `query` is a boolean query."""
    if (keywords is None) == (query is None):
        raise QueryError(f"topic {name!r}: give either keywords or query (exactly one)", "", 1)
    if query is not None:
        return Topic(name, parse(query), query)
    assert keywords is not None
    if isinstance(keywords, str):
        raise QueryError(f"topic {name!r}: keywords must be a list of phrases", keywords, 1)
    if not keywords:
        raise QueryError(f"topic {name!r}: keywords is empty", "", 1)
    phrases = tuple(keyword_phrase(k, i) for i, k in enumerate(keywords))
    root: Node = phrases[0] if len(phrases) == 1 else Or(1, phrases)
    return Topic(name, root, " | ".join(keywords))
