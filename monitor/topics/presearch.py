"""Presearcher in the manner of Lucene Monitor: skip queries that cannot possibly match.

Every query implies a conjunction of *clauses*, each a set of terms of which a matching
document must contain at least one:

* a word: its stem (a document word or two-word compound with that stem); for title: a stem
  of the title (title words and phrases are looked up among the title's terms only);
* a phrase: per word, that word or the word joined to a neighbour (a document may write the
  two as one compound);
* a prefix of >= 3 letters: its first three letters, matched against the document's words;
* AND / NEAR: all the clauses of all the children;
* OR: one clause, the union of each child's cheapest clause (none if any child has none);
* NOT, -term, site: nothing. A query with no clause at all goes to the "always evaluate" list.

A query is indexed under its cheapest clause (the `plan`: the document must contain one of
these terms to reach the query at all) and, when it has another clause of plain terms, the
cheapest of those is kept as a `check`, tested with one set operation before the query is
evaluated. So a query of two required words is evaluated only on documents with both. A query
with no such clause but a prefix clause is checked by the prefix's first three letters instead.

"Cheap" means rare in documents. Until enough documents have been seen, rarity is guessed
(longer words are rarer, function words are nearly free); the presearcher counts in how many
documents each query term occurs and re-plans after 256, 4,096 and 65,536 counted documents
(after the first re-plan it counts one document in eight).

Per document the candidates are the queries indexed under any of its terms whose check also
holds; only those are evaluated, by the same compiled nodes the baseline uses, so results are
identical whatever the plan. Stems depend on the language, so the index is built lazily per
document language (and again after a re-plan).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from itertools import chain, pairwise

from monitor.topics.analysis import Analysis
from monitor.topics.normalize import FUNCTION_WORDS
from monitor.topics.query import And, Near, Node, Not, Or, Phrase, Prefix, Site

Key = tuple[str, int | str]  # ("w", vocab id), ("t", vocab id: in the title) or ("p", first three letters)
Plan = frozenset[Key] | None
Clause = tuple[frozenset[Key], float]  # terms (any one suffices) and the estimated cost of the clause

REPLAN_AT = (256, 4096, 65536)  # documents counted; after the last one counting stops
SAMPLE_EVERY = 8  # after the first re-plan, count one document in this many
_PREFIX_COST = 1 / 1.5**2
TITLE_SHARE = 0.1  # guessed: a title has about a tenth of an article's distinct words


def _static_cost(word: str) -> float:
    """Guessed share of documents containing `word` when nothing has been counted yet."""
    return 4.0 if word in FUNCTION_WORDS else 1.0 / len(word) ** 2


class Presearcher:
    def __init__(self, roots: list[Node], vocab) -> None:  # vocab: matcher.Vocab
        self._vocab = vocab
        self._roots = roots
        # language -> (stem -> documents containing it, stem -> documents with it in the title)
        self._df: dict[str, tuple[Counter[str], Counter[str]]] = {}
        self._seen = 0  # documents counted
        self._docs = 0  # documents observed
        self._replans = list(REPLAN_AT)
        self._cost: list[float] = []
        self._title_cost: list[float] = []
        # each query's clauses without costs, so re-planning need not walk the syntax trees again
        self._shapes = [self._shape(root) for root in roots]
        self._plan_all()

    # ---- planning (language independent: vocabulary ids, not stems) ----

    def _plan_all(self) -> None:
        plans: list[Plan] = []
        checks: list[frozenset[int] | str | None] = []
        for shape in self._shapes:
            clauses = self._clauses(shape)
            if not clauses:
                plans.append(None)
                checks.append(None)
                continue
            clauses.sort(key=lambda c: c[1])
            plan = clauses[0][0]
            plans.append(plan)
            # a check is tested against the document's terms: title terms count as plain terms there
            check = next((c[0] for c in clauses[1:] if c[0] != plan and all(k != "p" for k, _ in c[0])), None)
            if check:
                checks.append(frozenset(v for _, v in check))  # type: ignore[misc]
                continue
            # else a prefix clause: its first three letters among the document's words'
            prefix = next((c[0] for c in clauses[1:] if c[0] != plan and len(c[0]) == 1), None)
            ((kind, value),) = prefix or ((None, None),)
            checks.append(value if kind == "p" else None)  # type: ignore[arg-type]
        self.plans = plans
        self.checks = checks
        self.always: list[int] = [i for i, plan in enumerate(plans) if plan is None]
        self._by_lang: dict[str, _LangIndex] = {}

    def _key_cost(self, key: Key) -> float:
        kind, value = key
        if kind == "p":
            return _PREFIX_COST
        title = kind == "t"
        cost = self._title_cost if title else self._cost
        if value >= len(cost):  # type: ignore[operator]  # vocabulary grew: guess until counted
            unit, share = self._vocab.units, TITLE_SHARE if title else 1.0
            cost.extend(share * _static_cost(unit[i]) for i in range(len(cost), value + 1))  # type: ignore[operator]
        return cost[value]  # type: ignore[index]

    def _clauses(self, shape: list) -> list[Clause]:
        """The clauses of a query shape with their current costs (the cheapest child of an OR)."""
        out: list[Clause] = []
        cost = self._key_cost
        for part in shape:
            if isinstance(part, frozenset):
                out.append((part, sum(map(cost, part))))
                continue
            union: set[Key] = set()  # an OR: one clause of each child's cheapest clause
            total = 0.0
            for child in part:
                keys, c = min(self._clauses(child), key=lambda o: o[1])
                union |= keys
                total += c
            out.append((frozenset(union), total))
        return out

    def _shape(self, node: Node) -> list:
        """Clauses of `node` as frozensets of keys, or for an OR a tuple of its children's shapes."""
        vocab = self._vocab
        if isinstance(node, Phrase):
            words = node.words
            ids = [vocab.id(w) for w in words]
            joins = [vocab.id(a + b) for a, b in pairwise(words)]
            # title: the whole phrase lies in the title (it cannot cross the sentinel after it)
            kind = "t" if node.field == "title" else "w"
            out: list = []
            for i, uid in enumerate(ids):
                keys = {uid}
                if i > 0:
                    keys.add(joins[i - 1])
                if i < len(joins):
                    keys.add(joins[i])
                out.append(frozenset((kind, k) for k in keys))
            return out
        if isinstance(node, Prefix):
            return [frozenset({("p", node.prefix[:3])})] if len(node.prefix) >= 3 else []
        if isinstance(node, (Not, Site)):
            return []
        if isinstance(node, (And, Near)):
            children = node.children if isinstance(node, And) else (node.left, node.right)
            return [c for child in children for c in self._shape(child)]
        if isinstance(node, Or):
            shapes = tuple(self._shape(child) for child in node.children)
            return [shapes] if all(shapes) else []
        raise TypeError(f"unknown query node {node!r}")  # pragma: no cover

    # ---- learning which terms are rare ----

    def observe(self, a: Analysis) -> None:
        """Count the query terms of one matched document; re-plan when enough were seen."""
        if not self._replans:
            return
        self._docs += 1
        if self._docs > REPLAN_AT[0] and self._docs % SAMPLE_EVERY:
            return
        index = self._index(a.lang)
        df = self._df.get(a.lang)
        if df is None:
            df = self._df[a.lang] = (Counter(), Counter())
        df[0].update(a.terms & index.vocab_keys)
        df[1].update(a.title_keys & index.vocab_keys)
        self._seen += 1
        if self._seen >= self._replans[0]:
            del self._replans[0]
            self._learn()

    def _learn(self) -> None:
        """Costs from the counts: the share of seen documents that contain each vocabulary term."""
        units = self._vocab.units
        counts, title_counts = [0] * len(units), [0] * len(units)
        for lang, (df, title_df) in self._df.items():
            stems = self._vocab.stems(lang)
            counts = [c + df.get(s, 0) for c, s in zip(counts, stems, strict=True)]
            title_counts = [c + title_df.get(s, 0) for c, s in zip(title_counts, stems, strict=True)]
        n = self._seen + 1
        # an unseen term is rarer than a seen one; among unseen ones the longer is guessed rarer
        guess = [0.2 + 0.05 * min(_static_cost(u), 1.0) for u in units]
        self._cost = [(c + g) / n for c, g in zip(counts, guess, strict=True)]
        self._title_cost = [(c + g * TITLE_SHARE) / n for c, g in zip(title_counts, guess, strict=True)]
        self._plan_all()

    # ---- per-language index and candidate selection ----

    def _index(self, lang: str) -> _LangIndex:
        index = self._by_lang.get(lang)
        if index is None:
            index = self._by_lang[lang] = _LangIndex(self.plans, self.checks, self._vocab.stems(lang))
        return index

    def candidates(self, a: Analysis) -> list[int]:
        """Ascending indexes of the queries worth evaluating on this document."""
        index = self._index(a.lang)
        found = set(self.always)
        terms = a.terms
        tables = [(terms & index.term_keys, index.terms)]  # set operations run in C; few keys survive
        # first three letters of the document's words: for prefix plans and prefix checks
        prefix3 = a.prefix3_keys() if index.prefix_keys or index.prefix_checked else frozenset()
        if index.title_keys:
            tables.append((a.title_keys & index.title_keys, index.titles))
        if index.prefix_keys:
            tables.append((prefix3 & index.prefix_keys, index.prefixes))
        for hit, table in tables:  # one flat comprehension per kind: no Python loop per key
            plain, one, many, pre = table.plain, table.one, table.many, table.pre
            found.update(chain.from_iterable(map(plain.__getitem__, hit & table.keys[0])))
            found.update([qi for key in hit & table.keys[1] for qi, c in one[key] if c in terms])
            found.update(
                [qi for key in hit & table.keys[2] for qi, c in many[key] if not terms.isdisjoint(c)]
            )
            if pre:
                found.update([qi for key in hit & table.keys[3] for qi, p in pre[key] if p in prefix3])
        return sorted(found)


class _Table:
    """key -> queries without a check; -> (query, the one term it also needs); -> (query, terms
    of which it needs one); -> (query, first three letters of a prefix it also needs)."""

    __slots__ = ("keys", "many", "one", "plain", "pre", "slots")

    def __init__(self) -> None:
        self.plain: dict[str, list[int] | tuple[int, ...]] = {}
        self.one: dict[str, list[tuple[int, str]] | tuple[tuple[int, str], ...]] = {}
        self.many: dict[str, list[tuple[int, tuple[str, ...]]] | tuple[tuple[int, tuple[str, ...]], ...]] = {}
        self.pre: dict[str, list[tuple[int, str]] | tuple[tuple[int, str], ...]] = {}
        self.slots: tuple[dict, dict, dict, dict] = (self.plain, self.one, self.many, self.pre)
        self.keys: tuple[frozenset[str], ...] = ()

    def freeze(self) -> frozenset[str]:
        """Buckets become tuples (of ints, strings and tuples of those, which the garbage
        collector stops tracking: an index of 10,000 queries is then not walked by every full
        collection, and a re-plan does not bring the next one forward); key sets per slot."""
        for table in self.slots:
            for key, bucket in table.items():
                table[key] = tuple(bucket)
        self.keys = tuple(map(frozenset, self.slots))
        return self.keys[0] | self.keys[1] | self.keys[2] | self.keys[3]


class _LangIndex:
    """stem -> queries, title stem -> queries, first-three-letters -> queries, for one language.

    Rebuilt for every language after each re-plan, so it is built with as little per-query
    work as possible."""

    def __init__(self, plans: list[Plan], checks: list[frozenset[int] | str | None], stems: list[str]):
        tables = {"w": _Table(), "t": _Table(), "p": _Table()}
        for qi, plan in enumerate(plans):
            if plan is None:
                continue
            ids = checks[qi]
            if not ids:
                entry: object = qi
                slot = 0
            elif isinstance(ids, str):  # first three letters of a prefix
                entry, slot = (qi, ids), 3
            else:
                check = frozenset(map(stems.__getitem__, ids))
                if len(check) == 1:
                    entry, slot = (qi, next(iter(check))), 1
                else:  # a tuple: `isdisjoint` takes any iterable, and tuples of strings are
                    entry, slot = (qi, tuple(check)), 2  # left alone by the garbage collector
            if len(plan) == 1:
                ((kind, value),) = plan
                keys: Iterable[tuple[str, str]] = ((kind, value if kind == "p" else stems[value]),)  # type: ignore[index]
            else:  # two vocabulary ids may share one stem: one entry per distinct key
                keys = {(kind, value if kind == "p" else stems[value]) for kind, value in plan}  # type: ignore[index]
            for kind, key in keys:
                table = tables[kind].slots[slot]
                bucket = table.get(key)
                if bucket is None:
                    table[key] = [entry]
                else:
                    bucket.append(entry)
        self.terms = tables["w"]
        self.titles = tables["t"]
        self.prefixes = tables["p"]
        self.term_keys = self.terms.freeze()
        self.title_keys = self.titles.freeze()
        self.prefix_keys = self.prefixes.freeze()
        self.prefix_checked = any(table.pre for table in tables.values())
        self.vocab_keys = frozenset(stems)  # every query term in this language: what is counted
