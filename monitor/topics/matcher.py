"""Compiled queries and the matcher that runs many of them over one analysed document.

Every query node becomes a small object with `ev(analysis) -> bool` (cheap set look-ups first,
positions only when needed) and `hits(analysis)` (word-position spans to report for a match).
Query words are interned in one `Vocab` per matcher and stemmed once per document language,
so a document costs one tokenise/fold/stem pass however many queries look at it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator

from monitor.models import TopicHit
from monitor.topics import normalize
from monitor.topics.analysis import Analysis, Document
from monitor.topics.compile import Topic
from monitor.topics.hits import build_hit
from monitor.topics.query import And, Near, Node, Not, Or, Phrase, Prefix, Site
from monitor.urls import ascii_host

Occ = tuple[int, int]  # first and last word position (inclusive)


class Vocab:
    """Distinct folded query words (and joined neighbours), stemmed lazily per language."""

    def __init__(self) -> None:
        self.units: list[str] = []
        self.ids: dict[str, int] = {}
        self._stems: dict[str, list[str]] = {}

    def id(self, unit: str) -> int:
        uid = self.ids.get(unit)
        if uid is None:
            uid = self.ids[unit] = len(self.units)
            self.units.append(unit)
            self._stems.clear()
        return uid

    def stems(self, lang: str) -> list[str]:
        stems = self._stems.get(lang)
        if stems is None:
            stems = self._stems[lang] = normalize.stem_all(self.units, lang)
        return stems


class CNode:
    """Base of compiled nodes; `cost` orders AND children so cheap tests run first."""

    __slots__ = ()
    cost = 0

    def ev(self, a: Analysis) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def occ(self, a: Analysis) -> list[Occ]:
        """Positions where this positional node occurs (words, phrases, prefixes, NEAR)."""
        return []

    def hits(self, a: Analysis) -> list[Occ]:
        """Positions to report and highlight when the query matched."""
        return self.occ(a)


class CWord(CNode):
    __slots__ = ("sid", "title")
    cost = 0

    def __init__(self, sid: int, title: bool):
        self.sid = sid
        self.title = title

    def ev(self, a: Analysis) -> bool:
        if self.title:
            return a.vs[self.sid] in a.title_keys
        return a.vs[self.sid] in a.terms

    def occ(self, a: Analysis) -> list[Occ]:
        s = a.vs[self.sid]
        out = [(p, p) for p in a.single_pos(s)]
        out += [(p, p + 1) for p in a.pair_pos(s)]
        if self.title:
            out = [o for o in out if o[0] < a.n_title]
        return out


class CPhrase(CNode):
    """Words in order and adjacent; a query word may match a document compound of two words
    and two adjacent query words may match one document word (``cease fire`` = ``ceasefire``)."""

    __slots__ = ("jids", "sids", "title")
    cost = 2

    def __init__(self, sids: tuple[int, ...], jids: tuple[int, ...], title: bool):
        self.sids = sids
        self.jids = jids
        self.title = title

    def _present(self, a: Analysis) -> bool:
        vs, stemset, terms = a.vs, a.stemset, a.terms
        jids = self.jids
        last = len(self.sids) - 1
        for i, sid in enumerate(self.sids):
            if vs[sid] in terms:
                continue
            if i < last and vs[jids[i]] in stemset:
                continue
            if i > 0 and vs[jids[i - 1]] in stemset:
                continue
            return False
        return True

    def ev(self, a: Analysis) -> bool:
        if not self._present(a):
            return False
        vs, stemset, pairset = a.vs, a.stemset, a.pairset
        units = [vs[i] for i in self.sids]
        if "" in units or not pairset.isdisjoint(units) or any(vs[j] in stemset for j in self.jids):
            return bool(self._find(a, first_only=True))  # compounds on either side: the general walk
        # the common case: each query word is one document word, at consecutive positions
        stems, n = a.stems, len(units)
        last = (a.n_title if self.title else len(stems)) - 1
        size = len(stems) - n
        rest = units[1:]
        for p in a.single_pos(units[0]):
            if p > last or p > size:
                break
            if list(stems[p + 1 : p + n]) == rest:
                return True
        return False

    def occ(self, a: Analysis) -> list[Occ]:
        return self._find(a, first_only=False) if self._present(a) else []

    def _find(self, a: Analysis, first_only: bool) -> list[Occ]:
        vs = a.vs
        units = [vs[i] for i in self.sids]
        joins = [vs[j] for j in self.jids]
        stems, pairs = a.stems, a.pairs
        n, size = len(units), len(stems)
        # (position, query word) states from which the rest of the phrase does not read, so that
        # no walk enters them twice. Without this the walk is exponential in the phrase's length
        # on words equal to their own compounds (a hyphen chain of "ing": 18 words took 5 s, 22
        # words 148 s).
        failed: set[tuple[int, int]] = set()

        def end(start: int) -> int | None:
            """Where the first reading from `start` ends (exclusive), trying one word per query
            word, then a compound for it, then one word for two of them; iterative, so a phrase
            of a thousand words does not exhaust the stack."""
            entered: set[tuple[int, int]] = set()  # left again only when all below them failed
            stack = [(start, 0)]
            while stack:
                p, i = stack.pop()
                if i == n:
                    return p  # `entered` holds this reading's states too: not merged into `failed`
                if p >= size or (p, i) in entered or (p, i) in failed:
                    continue
                entered.add((p, i))
                if i + 1 < n and stems[p] == joins[i]:  # pushed first: tried last
                    stack.append((p + 1, i + 2))
                if pairs[p] == units[i]:
                    stack.append((p + 2, i + 1))
                if stems[p] == units[i]:
                    stack.append((p + 1, i + 1))
            failed.update(entered)
            return None

        starts = set(a.single_pos(units[0]))
        starts.update(a.pair_pos(units[0]))
        starts.update(a.single_pos(joins[0]))
        out: list[Occ] = []
        for p in sorted(starts):
            if self.title and p >= a.n_title:
                break
            found = end(p)
            if found is not None:
                out.append((p, found - 1))  # one occurrence per start position is enough to report
                if first_only:
                    return out
        return out


class CPrefix(CNode):
    __slots__ = ("prefix", "title")
    cost = 1

    def __init__(self, prefix: str, title: bool):
        self.prefix = prefix
        self.title = title

    def _positions(self, a: Analysis) -> Iterable[int]:
        if len(self.prefix) >= 3:
            return a.by3().get(self.prefix[:3], ())
        return range(a.n_title if self.title else len(a.folded))

    def ev(self, a: Analysis) -> bool:
        words = a.sorted_words(self.title)
        i = bisect_left(words, self.prefix)
        return i < len(words) and words[i].startswith(self.prefix)

    def occ(self, a: Analysis) -> list[Occ]:
        folded, prefix, nt = a.folded, self.prefix, a.n_title
        out = [
            (p, p)
            for p in self._positions(a)
            if folded[p].startswith(prefix) and not (self.title and p >= nt)
        ]
        # a compound, where the prefix needs its second word too (the first alone is found above)
        out += [
            (p, p + 1)
            for p, word in a.glued()
            if word.startswith(prefix) and not folded[p].startswith(prefix) and not (self.title and p >= nt)
        ]
        return out


class CSite(CNode):
    __slots__ = ("domain", "dotted")
    cost = 0

    def __init__(self, domain: str):
        self.domain = ascii_host(domain)  # `site:bücher.de` finds https://xn--bcher-kva.de/ and back
        self.dotted = "." + self.domain

    def ev(self, a: Analysis) -> bool:
        host = a.host
        return host == self.domain or host.endswith(self.dotted)


class CNot(CNode):
    __slots__ = ("child",)
    cost = 5

    def __init__(self, child: CNode):
        self.child = child

    def ev(self, a: Analysis) -> bool:
        return not self.child.ev(a)

    def hits(self, a: Analysis) -> list[Occ]:
        return []


class CNear(CNode):
    __slots__ = ("distance", "left", "right")
    cost = 3

    def __init__(self, left: CNode, right: CNode, distance: int):
        self.left = left
        self.right = right
        self.distance = distance

    def _sides(self, a: Analysis) -> tuple[list[Occ], list[Occ]] | None:
        if not (self.left.ev(a) and self.right.ev(a)):
            return None
        return sorted(self.left.occ(a)), sorted(self.right.occ(a))

    def _partners(self, x: Occ, ys: list[Occ], y_starts: list[int], longest: int, nt: int) -> Iterator[Occ]:
        """The occurrences of `ys` (sorted) within the distance of `x`, in the same field and not
        overlapping it. Only the window of starts that can qualify is looked at, so a long,
        repetitive page costs the pairs that are near, not every pair of the two sides."""
        dist = self.distance
        x_title = x[0] < nt
        for j in range(bisect_left(y_starts, x[0] - dist - longest), bisect_right(y_starts, x[1] + dist)):
            y = ys[j]
            if (y[0] < nt) != x_title:
                continue
            if x[1] < y[0]:
                gap = y[0] - x[1]
            elif y[1] < x[0]:
                gap = x[0] - y[1]
            else:
                continue  # overlapping: the same words cannot be both sides
            if gap <= dist:
                yield y

    @staticmethod
    def _window(ys: list[Occ]) -> tuple[list[int], int]:
        return [y[0] for y in ys], max(y[1] - y[0] for y in ys)

    def _pairs(self, a: Analysis) -> Iterator[tuple[Occ, Occ]]:
        sides = self._sides(a)
        if sides is None:
            return
        lefts, rights = sides
        starts, longest = self._window(rights)
        for x in lefts:
            for y in self._partners(x, rights, starts, longest, a.n_title):
                yield x, y

    def ev(self, a: Analysis) -> bool:
        return next(self._pairs(a), None) is not None

    def occ(self, a: Analysis) -> list[Occ]:
        return sorted({(min(x[0], y[0]), max(x[1], y[1])) for x, y in self._pairs(a)})

    def hits(self, a: Analysis) -> list[Occ]:
        """Every occurrence of either side that has a partner: found with one partner each, not
        by listing all the pairs (3,000 × "russia talks" with NEAR/1000 made millions)."""
        sides = self._sides(a)
        if sides is None:
            return []
        lefts, rights = sides
        nt = a.n_title
        r_starts, r_longest = self._window(rights)
        l_starts, l_longest = self._window(lefts)
        found = {x for x in lefts if next(self._partners(x, rights, r_starts, r_longest, nt), None)}
        found.update(y for y in rights if next(self._partners(y, lefts, l_starts, l_longest, nt), None))
        return sorted(found)


class CNearWords(CNear):
    """NEAR of two plain words (not title:): decided on the raw position lists, without
    building spans, unless a side also occurs as a two-word compound (then as `CNear`)."""

    __slots__ = ("lsid", "rsid")

    def __init__(self, left: CWord, right: CWord, distance: int):
        super().__init__(left, right, distance)
        self.lsid = left.sid
        self.rsid = right.sid

    def ev(self, a: Analysis) -> bool:
        vs, terms = a.vs, a.terms
        s, t = vs[self.lsid], vs[self.rsid]
        if s not in terms or t not in terms:
            return False
        stemset = a.stemset
        if s not in stemset or t not in stemset:  # only as a compound on a side: spans needed
            return super().ev(a)
        pairset = a.pairset
        if s in pairset or t in pairset:
            return super().ev(a)
        xs, ys = a.single_pos(s), a.single_pos(t)
        if len(xs) > len(ys):  # the test is symmetric: walk the shorter list, bisect the other
            xs, ys = ys, xs
        nt, dist, size = a.n_title, self.distance, len(ys)
        for x in xs:
            x_title = x < nt
            j = bisect_left(ys, x - dist)
            while j < size:
                y = ys[j]
                if y > x + dist:
                    break
                if y != x and (y < nt) == x_title:
                    return True
                j += 1
        return False


class CAnd(CNode):
    __slots__ = ("children", "evs")
    cost = 2

    def __init__(self, children: list[CNode]):
        self.children = tuple(sorted(children, key=lambda c: c.cost))
        self.evs = tuple(c.ev for c in self.children)

    def ev(self, a: Analysis) -> bool:
        for ev in self.evs:  # noqa: SIM110 - a plain loop is measurably faster than all(genexpr)
            if not ev(a):
                return False
        return True

    def hits(self, a: Analysis) -> list[Occ]:
        return [o for c in self.children for o in c.hits(a)]


class COr(CNode):
    __slots__ = ("children", "evs")
    cost = 2

    def __init__(self, children: list[CNode]):
        self.children = tuple(sorted(children, key=lambda c: c.cost))
        self.evs = tuple(c.ev for c in self.children)

    def ev(self, a: Analysis) -> bool:
        for ev in self.evs:  # noqa: SIM110 - a plain loop is measurably faster than any(genexpr)
            if ev(a):
                return True
        return False

    def occ(self, a: Analysis) -> list[Occ]:
        return [o for c in self.children for o in c.occ(a)]

    def hits(self, a: Analysis) -> list[Occ]:
        return [o for c in self.children if c.ev(a) for o in c.hits(a)]


def _walk(nodes: Iterable[CNode]) -> Iterator[CNode]:
    """Every node of the compiled queries (without recursion: queries nest deeply)."""
    stack = list(nodes)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, CAnd | COr):
            stack.extend(node.children)
        elif isinstance(node, CNot):
            stack.append(node.child)
        elif isinstance(node, CNear):
            stack.extend((node.left, node.right))


def compile_node(node: Node, vocab: Vocab) -> CNode:
    """Syntax tree -> evaluable node, interning every word (and joined neighbours) in `vocab`."""
    if isinstance(node, Phrase):
        title = node.field == "title"
        sids = tuple(vocab.id(w) for w in node.words)
        if len(sids) == 1:
            return CWord(sids[0], title)
        jids = tuple(vocab.id(a + b) for a, b in zip(node.words, node.words[1:], strict=False))
        return CPhrase(sids, jids, title)
    if isinstance(node, Prefix):
        return CPrefix(node.prefix, node.field == "title")
    if isinstance(node, Site):
        return CSite(node.domain)
    if isinstance(node, Not):
        return CNot(compile_node(node.child, vocab))
    if isinstance(node, Near):
        left, right = compile_node(node.left, vocab), compile_node(node.right, vocab)
        if isinstance(left, CWord) and isinstance(right, CWord) and not (left.title or right.title):
            return CNearWords(left, right, node.distance)
        return CNear(left, right, node.distance)
    if isinstance(node, And):
        return CAnd([compile_node(c, vocab) for c in node.children])
    if isinstance(node, Or):
        return COr([compile_node(c, vocab) for c in node.children])
    raise TypeError(f"unknown query node {node!r}")  # pragma: no cover


class TopicMatcher:
    """Matches documents against a fixed set of topics.

    With `presearch` (the default) only topics whose index terms occur in the document are
    evaluated (see `presearch.py`); without it every topic is evaluated. Both give the same
    hits; the switch exists to prove that and to measure the gain.
    """

    def __init__(self, topics: Iterable[Topic], *, presearch: bool = True):
        from monitor.topics.presearch import Presearcher

        self.topics: list[Topic] = sorted(topics, key=lambda t: t.name)
        self.vocab = Vocab()
        self.compiled: list[CNode] = [compile_node(t.root, self.vocab) for t in self.topics]
        self.presearcher = (
            Presearcher([t.root for t in self.topics], self.vocab) if presearch and self.topics else None
        )
        # what the analyses need of the vocabulary (complete once compiled): per language its
        # stems by id and as a set, and the words that may begin a compound of a query word
        self._views: dict[str, tuple[list[str], frozenset[str]]] = {}
        # compounds glue toward query words and prefixes alike (``ceasef*`` finds ``cease fire``)
        prefixes = [n.prefix for n in _walk(self.compiled) if isinstance(n, CPrefix)]
        self._pair_starts = normalize.pair_starts([*self.vocab.units, *prefixes])

    def analyse(self, doc: Document) -> Analysis:
        """Tokenise, fold and stem `doc` once (language from `doc.lang`, else detected)."""
        lang = normalize.stem_language(doc.lang) if doc.lang else ""
        if not doc.lang:
            lang = normalize.detect_language(f"{doc.title}\n{doc.text}")
        view = self._views.get(lang)
        if view is None:
            stems = self.vocab.stems(lang)
            view = self._views[lang] = (stems, frozenset(stems))
        return Analysis(doc, lang, view[0], view[1], self._pair_starts)

    def matching(self, analysis: Analysis) -> list[int]:
        """Indexes into `self.topics` of the topics that match, ascending (= by name)."""
        if self.presearcher is not None:
            self.presearcher.observe(analysis)
            candidates: Iterable[int] = self.presearcher.candidates(analysis)
        else:
            candidates = range(len(self.compiled))
        compiled = self.compiled
        return [i for i in candidates if compiled[i].ev(analysis)]

    def match(self, doc: Document) -> list[TopicHit]:
        """One TopicHit per matching topic, ordered by topic name."""
        analysis = self.analyse(doc)
        return [
            build_hit(self.topics[i].name, self.compiled[i].hits(analysis), analysis)
            for i in self.matching(analysis)
        ]
