"""One article, tokenised, folded and stemmed once, shared by every query that looks at it.

Positions: title words are 0..n_title-1, then one sentinel position (so no phrase or NEAR
runs from the title into the body), then the body words. `pairs[p]` is the stem of words p and
p+1 read as one compound (``cease fire`` -> ``ceasefire``), or "" where they may not join.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from itertools import compress
from typing import Any
from urllib.parse import urlsplit

from monitor.topics import normalize
from monitor.urls import ascii_host

SENTINEL = "\x00"  # never equal to a stem


@dataclass(frozen=True)
class Document:
    """What the matcher needs of an article: clean title and text, url for site:, language."""

    id: str
    title: str
    text: str
    url: str = ""
    lang: str = ""

    @classmethod
    def of_article(cls, article: Any) -> Document:
        """A stored or crawled article (`monitor.models.Article`: url, title, text, language) as
        every path matches it (crawl workers, topic backfill, `topics test`), so they agree."""
        return cls(
            id=article.url, title=article.title, text=article.text, url=article.url, lang=article.language
        )


def host_of(url: str) -> str:
    """The URL's host in its ASCII (IDNA) spelling, as `site:` domains are compared."""
    try:
        return ascii_host((urlsplit(url).hostname or "").lower().rstrip("."))
    except ValueError:  # malformed URL (e.g. bad IPv6 literal): no host, so no site: match
        return ""


def _index(seq: tuple[str, ...] | list[str], only: AbstractSet[str] | None = None) -> dict[str, list[int]]:
    """item -> its positions in `seq` (only for items in `only`, if given: the few a query can
    ask for): built in one pass on first use, then shared by all queries."""
    index: dict[str, list[int]] = {}
    get = index.get
    if only is None:
        wanted: Iterable[tuple[int, str]] = enumerate(seq)
    else:
        wanted = [(p, item) for p, item in enumerate(seq) if item in only]
    for p, item in wanted:
        found = get(item)
        if found is None:
            index[item] = [p]
        else:
            found.append(p)
    return index


class Analysis:
    """The per-document data every compiled query reads. Built once per document.

    Deciding whether a query matches needs only the sets (`terms`, `stemset`, `title_keys`) and,
    for phrases and NEAR, the position lists; everything else (position indexes, sorted words for
    prefixes, character spans, sentences) is built on first use and then shared by all queries.
    """

    __slots__ = (
        "_by3",
        "_first3",
        "_glued",
        "_pair_pos",
        "_prefix3",
        "_sentences",
        "_single_pos",
        "_spans",
        "_title_words",
        "_vset",
        "_words",
        "doc",
        "folded",
        "host",
        "lang",
        "n_title",
        "pairs",
        "pairset",
        "stems",
        "stemset",
        "terms",
        "title_keys",
        "vs",
    )

    def __init__(
        self,
        doc: Document,
        lang: str,
        vs: list[str] | None = None,
        vset: AbstractSet[str] | None = None,
        pair_starts: AbstractSet[str] | None = None,
    ):
        """`vs`: the matcher's vocabulary stems in `lang`, by vocabulary id; `vset` the same as a
        set (only those stems get position lists); `pair_starts`: see `normalize.pair_starts`."""
        self.doc = doc
        self.lang = lang
        self.host = host_of(doc.url) if doc.url else ""
        self.folded, stems, pairs, nt, self._first3 = normalize.analyse_title_and_text(
            doc.title, doc.text, lang, SENTINEL, pair_starts
        )
        self.stems, self.pairs, self.n_title = stems, pairs, nt
        self.stemset = stemset = set(stems)
        pairset = self.pairset = set(pairs)
        pairset.discard("")
        self.terms = stemset | pairset  # a word of the document, or two of them read as one
        title_keys = self.title_keys = set(stems[:nt])
        title_keys.update(pairs[:nt])
        title_keys.discard("")
        self.vs: list[str] = vs if vs is not None else []
        self._vset = vset
        self._single_pos: dict[str, list[int]] | None = None
        self._pair_pos: dict[str, list[int]] | None = None
        self._by3: dict[str, list[int]] | None = None
        self._words: list[str] | None = None
        self._title_words: list[str] | None = None
        self._prefix3: set[str] | None = None
        self._glued: list[tuple[int, str]] | None = None
        self._spans: list[tuple[int, int]] | None = None
        self._sentences: dict[str, list[tuple[int, int]]] = {}

    # Lazy indexes: only phrases, NEAR, prefixes and hit reporting need positions.

    def single_pos(self, s: str) -> list[int] | tuple[()]:
        """Positions of the words with stem `s`."""
        if s not in self.stemset:  # most look-ups: no index needed at all
            return ()
        index = self._single_pos
        if index is None:
            index = self._single_pos = _index(self.stems, self._vset)
        return index.get(s, ())

    def pair_pos(self, s: str) -> list[int] | tuple[()]:
        """Positions p where words p and p+1 read as one compound have stem `s`."""
        if s not in self.pairset:  # compounds are rare: usually never indexed
            return ()
        index = self._pair_pos
        if index is None:
            index = self._pair_pos = _index(self.pairs)
            index.pop("", None)
        return index.get(s, ())

    def by3(self) -> dict[str, list[int]]:
        """First three letters of each folded word -> positions (prefix queries of >= 3 letters)."""
        if self._by3 is None:
            self._by3 = _index(self._first3)
            self._by3.pop("", None)
        return self._by3

    def glued(self) -> list[tuple[int, str]]:
        """(position, the folded words p and p+1 written as one) for each compound of the
        document (`pairs`): a prefix reaches across them, as words do (``ceasef*`` finds
        ``cease-fire``)."""
        if self._glued is None:
            folded = self.folded
            pairs = self.pairs  # mostly "": `compress` finds the others without a Python loop
            self._glued = [(p, folded[p] + folded[p + 1]) for p in compress(range(len(pairs)), pairs)]
        return self._glued

    def prefix3_keys(self) -> set[str]:
        """First three letters of the words, and of the compounds, of three or more letters."""
        if self._prefix3 is None:
            self._prefix3 = set(self._first3)
            self._prefix3.update(word[:3] for _, word in self.glued() if len(word) >= 3)
            self._prefix3.discard("")
        return self._prefix3

    def sorted_words(self, title: bool) -> list[str]:
        """Distinct folded words and compounds (of the title only, or of everything), sorted: a
        prefix test is one bisection, since the words starting with a prefix sort right from the
        prefix itself."""
        if title:
            if self._title_words is None:
                nt = self.n_title
                words = set(self.folded[:nt])
                words.update(word for p, word in self.glued() if p < nt)
                self._title_words = sorted(words)
            return self._title_words
        if self._words is None:
            words = set(self.folded)
            words.update(word for _, word in self.glued())
            self._words = sorted(words)
        return self._words

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
