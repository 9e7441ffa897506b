"""Topic matching: which watched topics (keywords or boolean queries) an article matches.

Pure core: stdlib, PyStemmer and py3langid only (no Scrapy, Twisted, pymongo or network).
Modules: `normalize` (folding, tokens, stems, language), `query` (parser -> syntax tree),
`compile` (topic config -> Topic), `analysis` (one document, analysed once), `matcher`
(compiled queries, TopicMatcher), `presearch` (which queries to evaluate), `hits` (score,
terms) and `snippet` (snippet, highlights, plain-text marking).
"""

from monitor.topics.analysis import Document
from monitor.topics.compile import Topic, compile_topic
from monitor.topics.matcher import TopicMatcher
from monitor.topics.query import QueryError, explain_tree, parse
from monitor.topics.snippet import mark_text


def explain(query: str) -> str:
    """Indented parse tree of `query` with normalised words, for `topics test --explain`."""
    return "\n".join(explain_tree(parse(query)))


__all__ = [
    "Document",
    "QueryError",
    "Topic",
    "TopicMatcher",
    "compile_topic",
    "explain",
    "mark_text",
]
