"""A matched topic's word positions -> TopicHit: terms as written, score, snippet, highlights.

Score: each distinct matched term counts once, with the weight of its best occurrence plus a
little for repeats:

    occurrence weight = 3.0 in the title; 1 + 1 / (1 + k / 20) for the k-th body word (2.0 .. ~1.0)
    score = sum over distinct terms of (best occurrence weight + 0.25 * log2(occurrences))

So a title hit (3.0) beats any single body hit (< 2.0 + repeats of a few), two distinct terms
beat one at similar places, and an early body hit beats a late one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from monitor.models import TopicHit
from monitor.topics.analysis import Analysis
from monitor.topics.snippet import make_snippet

TITLE_WEIGHT = 3.0


def occurrence_weight(a: Analysis, position: int) -> float:
    if a.in_title(position):
        return TITLE_WEIGHT
    return 1.0 + 1.0 / (1.0 + a.body_index(position) / 20.0)


def build_hit(topic: str, occurrences: Iterable[tuple[int, int]], a: Analysis) -> TopicHit:
    """TopicHit for `topic` from the (first, last) word positions its query matched."""
    title_hits: list[tuple[int, int, str, float]] = []
    body_hits: list[tuple[int, int, str, float]] = []
    best: dict[str, float] = {}
    counts: dict[str, int] = {}
    surfaces: dict[str, str] = {}
    for first, last in sorted(set(occurrences)):
        # a compound is one term however it is written: "cease-fire" is "ceasefire" again, not a
        # second distinct term that would outrank an article matching two
        compound = a.pairs[first] if last == first + 1 else ""
        key = compound or " ".join(a.stems[first : last + 1])
        weight = occurrence_weight(a, first)
        field, start, _ = a.span(first)
        _, _, end = a.span(last)
        source = a.doc.title if field == "title" else a.doc.text
        surfaces.setdefault(key, source[start:end])
        best[key] = max(best.get(key, 0.0), weight)
        counts[key] = counts.get(key, 0) + 1
        (title_hits if field == "title" else body_hits).append((start, end, key, weight))
    score = sum(best[k] + 0.25 * math.log2(counts[k]) for k in best)
    if body_hits:
        snippet, highlights = make_snippet(a.doc.text, body_hits, sents=a.sentences("text"))
    else:
        snippet, highlights = make_snippet(a.doc.title, title_hits, sents=a.sentences("title"))
    terms: list[str] = []
    for surface in surfaces.values():
        if surface not in terms:
            terms.append(surface)
    return TopicHit(
        topic=topic,
        terms=tuple(terms),
        snippet=snippet,
        highlights=highlights,
        score=round(score, 4),
    )
