"""Presearcher in the manner of Lucene Monitor: skip queries that cannot possibly match.

Each query is indexed by a set of terms of which any matching document must contain at least
one (a disjunction):

* a word: its stem (a document word or two-word compound with that stem);
* a phrase: its most selective word, plus that word joined to each neighbour (a document may
  write the two as one compound);
* a prefix of >= 3 letters: its first three letters, matched against the document's words;
* AND / NEAR: the term set of the most selective required child (any one suffices);
* OR: the union of its children's sets (none if any child has none);
* NOT, -term, site: nothing. A query left with no term set goes to the "always evaluate" list.

Selectivity is estimated without corpus statistics: longer words are rarer, function words
are nearly free. Per document the candidates are the queries indexed under any of its stems;
only those are evaluated, by the same compiled nodes the baseline uses, so results match.
Stems depend on the language, so the index is built lazily per document language.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.topics.analysis import Analysis
from monitor.topics.normalize import FUNCTION_WORDS
from monitor.topics.query import And, Near, Node, Not, Or, Phrase, Prefix, Site

Key = tuple[str, int | str]  # ("w", vocab id) or ("p", first three letters)
Plan = frozenset[Key] | None


def _word_weight(word: str) -> float:
    return 0.5 if word in FUNCTION_WORDS else float(len(word))


@dataclass(frozen=True)
class _Weighted:
    keys: frozenset[Key]
    weight: float  # of its weakest key: any key alone admits the document


class Presearcher:
    def __init__(self, roots: list[Node], vocab) -> None:  # vocab: matcher.Vocab
        self._vocab = vocab
        plans: list[Plan] = []
        for root in roots:
            weighted = self._plan(root)
            plans.append(weighted.keys if weighted is not None else None)
        self.plans = plans
        self.always: list[int] = [i for i, plan in enumerate(plans) if plan is None]
        self._by_lang: dict[str, _LangIndex] = {}

    # ---- planning (language independent: vocabulary ids, not stems) ----

    def _plan(self, node: Node) -> _Weighted | None:
        vocab = self._vocab
        if isinstance(node, Phrase):
            words = node.words
            best = max(range(len(words)), key=lambda i: (_word_weight(words[i]), -i))
            keys: set[Key] = {("w", vocab.id(words[best]))}
            if best > 0:
                keys.add(("w", vocab.id(words[best - 1] + words[best])))
            if best + 1 < len(words):
                keys.add(("w", vocab.id(words[best] + words[best + 1])))
            return _Weighted(frozenset(keys), _word_weight(words[best]))
        if isinstance(node, Prefix):
            if len(node.prefix) < 3:
                return None
            return _Weighted(frozenset({("p", node.prefix[:3])}), 1.5)
        if isinstance(node, (Not, Site)):
            return None
        if isinstance(node, (And, Near)):
            children = node.children if isinstance(node, And) else (node.left, node.right)
            options = [w for w in (self._plan(c) for c in children) if w is not None]
            if not options:
                return None
            return max(options, key=lambda w: (w.weight, -len(w.keys)))
        if isinstance(node, Or):
            union: set[Key] = set()
            weight = float("inf")
            for child in node.children:
                w = self._plan(child)
                if w is None:
                    return None
                union |= w.keys
                weight = min(weight, w.weight)
            return _Weighted(frozenset(union), weight)
        raise TypeError(f"unknown query node {node!r}")  # pragma: no cover

    # ---- per-language index and candidate selection ----

    def _index(self, lang: str) -> _LangIndex:
        index = self._by_lang.get(lang)
        if index is None:
            index = self._by_lang[lang] = _LangIndex(self.plans, self._vocab.stems(lang))
        return index

    def candidates(self, a: Analysis) -> list[int]:
        """Ascending indexes of the queries worth evaluating on this document."""
        index = self._index(a.lang)
        found = set(self.always)
        terms = index.terms
        for key in a.stemset & index.term_keys:
            found.update(terms[key])
        for key in a.pairset & index.term_keys:
            found.update(terms[key])
        if index.prefixes:
            prefixes = index.prefixes
            for key in a.prefix3_keys() & index.prefix_keys:
                found.update(prefixes[key])
        return sorted(found)


class _LangIndex:
    """stem -> query indexes, and first-three-letters -> query indexes, for one language."""

    def __init__(self, plans: list[Plan], stems: list[str]):
        terms: dict[str, list[int]] = {}
        prefixes: dict[str, list[int]] = {}
        for qi, plan in enumerate(plans):
            if plan is None:
                continue
            for kind, value in plan:
                if kind == "w":
                    assert isinstance(value, int)
                    bucket = terms.setdefault(stems[value], [])
                else:
                    assert isinstance(value, str)
                    bucket = prefixes.setdefault(value, [])
                if not bucket or bucket[-1] != qi:
                    bucket.append(qi)
        self.terms = terms
        self.prefixes = prefixes
        self.term_keys = frozenset(terms)
        self.prefix_keys = frozenset(prefixes)
