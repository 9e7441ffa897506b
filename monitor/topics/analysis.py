"""One article, tokenised, folded and stemmed once, shared by every query that looks at it.

Positions: title words are 0..n_title-1, then one sentinel position (so no phrase or NEAR
runs from the title into the body), then the body words. `pairs[p]` is the stem of words p and
p+1 read as one compound (``cease fire`` -> ``ceasefire``), or "" where they may not join.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from monitor.topics import normalize

SENTINEL = "\x00"  # never equal to a stem


@dataclass(frozen=True)
class Document:
    """What the matcher needs of an article: clean title and text, url for site:, language."""

    id: str
    title: str
    text: str
    url: str = ""
    lang: str = ""


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:  # malformed URL (e.g. bad IPv6 literal): no host, so no site: match
        return ""


class Analysis:
    """The per-document data every compiled query reads. Built once per document."""

    __slots__ = (
        "_by3",
        "_pair_pos",
        "_sentences",
        "_single_pos",
        "_spans",
        "doc",
        "folded",
        "host",
        "lang",
        "n_title",
        "pairs",
        "pairset",
        "stems",
        "stemset",
        "title_keys",
        "vs",
    )

    def __init__(self, doc: Document, lang: str):
        self.doc = doc
        self.lang = lang
        self.host = host_of(doc.url) if doc.url else ""
        t_folded, t_glued = normalize.tokenize(doc.title)
        b_folded, b_glued = normalize.tokenize(doc.text)
        self.n_title = len(t_folded)
        folded = [*t_folded, SENTINEL, *b_folded]
        glued = [*t_glued, "", *b_glued]
        self.folded = folded
        self.stems = normalize.stem_all(folded, lang)
        self.pairs = normalize.stem_all(glued, lang)
        self.stemset = set(self.stems)
        self.pairset = set(self.pairs)
        self.pairset.discard("")
        nt = self.n_title
        self.title_keys = set(self.stems[:nt])
        self.title_keys.update(self.pairs[:nt])
        self.title_keys.discard("")
        self.vs: list[str] = []  # the matcher's vocabulary stems for `lang`, set by the matcher
        self._single_pos: dict[str, list[int]] | None = None
        self._pair_pos: dict[str, list[int]] | None = None
        self._by3: dict[str, list[int]] | None = None
        self._spans: list[tuple[int, int]] | None = None
        self._sentences: dict[str, list[tuple[int, int]]] = {}

    # Lazy indexes: only phrases, NEAR, prefixes and hit reporting need positions.

    def single_pos(self) -> dict[str, list[int]]:
        if self._single_pos is None:
            index: dict[str, list[int]] = {}
            for p, s in enumerate(self.stems):
                index.setdefault(s, []).append(p)
            self._single_pos = index
        return self._single_pos

    def pair_pos(self) -> dict[str, list[int]]:
        if self._pair_pos is None:
            index: dict[str, list[int]] = {}
            for p, s in enumerate(self.pairs):
                if s:
                    index.setdefault(s, []).append(p)
            self._pair_pos = index
        return self._pair_pos

    def by3(self) -> dict[str, list[int]]:
        """First three letters of each folded word -> positions (prefix queries of >= 3 letters)."""
        if self._by3 is None:
            index: dict[str, list[int]] = {}
            for p, w in enumerate(self.folded):
                index.setdefault(w[:3], []).append(p)
            self._by3 = index
        return self._by3

    def prefix3_keys(self) -> set[str]:
        return {w[:3] for w in set(self.folded) if len(w) >= 3}

    def in_title(self, p: int) -> bool:
        return p < self.n_title

    def body_index(self, p: int) -> int:
        """0-based index of body word p (only for p > n_title)."""
        return p - self.n_title - 1

    def sentences(self, field: str) -> list[tuple[int, int]]:
        """Sentence spans of the title or text, computed once for all topics that matched."""
        found = self._sentences.get(field)
        if found is None:
            from monitor.topics.snippet import sentences

            found = self._sentences[field] = sentences(self.doc.title if field == "title" else self.doc.text)
        return found

    def span(self, p: int) -> tuple[str, int, int]:
        """("title"|"text", start, end) of word p in the original title/text."""
        if self._spans is None:
            spans = normalize.spans(self.doc.title)
            spans.append((0, 0))
            spans.extend(normalize.spans(self.doc.text))
            if len(spans) != len(self.folded):  # pragma: no cover - both come from the same regex
                raise AssertionError("tokeniser and span finder disagree")
            self._spans = spans
        start, end = self._spans[p]
        if p < self.n_title:
            return ("title", start + normalize.elision_length(self.doc.title[start:end]), end)
        return ("text", start + normalize.elision_length(self.doc.text[start:end]), end)
