"""Specialised compiled nodes decide exactly as the general ones they stand in for."""

from __future__ import annotations

import random

from monitor.topics import Document, TopicMatcher, compile_topic
from monitor.topics.matcher import CNear, CNearWords, CPhrase

WORDS = [
    "peace",
    "talks",
    "cease",
    "fire",
    "ceasefire",
    "the",
    "of",
    "russia",
    "geneva",
    "and",
    "talk",
    "firing",
]
SEPS = [" ", " ", " ", "-", ", ", ". "]


def _text(rng: random.Random, n: int) -> str:
    out = []
    for _ in range(n):
        out.append(rng.choice(WORDS))
        out.append(rng.choice(SEPS))
    return "".join(out)


def test_near_of_two_words_equals_general_near() -> None:
    rng = random.Random(5)
    topics = [
        compile_topic(f"q{i}", query=f"{rng.choice(WORDS)} NEAR/{rng.randint(1, 4)} {rng.choice(WORDS)}")
        for i in range(60)
    ]
    matcher = TopicMatcher(topics, presearch=False)
    fast = [c for c in matcher.compiled if isinstance(c, CNearWords)]
    assert len(fast) > 40
    outcomes = set()
    for _ in range(300):
        doc = Document("d", _text(rng, rng.randint(0, 4)), _text(rng, rng.randint(0, 12)), lang="en")
        a = matcher.analyse(doc)
        for c in fast:
            got = c.ev(a)
            assert got == CNear.ev(c, a), (doc, c.left.sid, c.right.sid, c.distance)
            outcomes.add(got)
    assert outcomes == {True, False}


def test_phrase_equals_general_phrase_walk() -> None:
    rng = random.Random(6)
    topics = []
    for i in range(80):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 3)))
        topics.append(compile_topic(f"q{i}", query=f'{rng.choice(["", "title:"])}"{words}"'))
    matcher = TopicMatcher(topics, presearch=False)
    phrases = [c for c in matcher.compiled if isinstance(c, CPhrase)]
    assert len(phrases) > 60
    outcomes = set()
    for _ in range(300):
        doc = Document("d", _text(rng, rng.randint(0, 5)), _text(rng, rng.randint(0, 14)), lang="en")
        a = matcher.analyse(doc)
        for c in phrases:
            got = c.ev(a)
            assert got == (c._present(a) and bool(c._find(a, first_only=True))), (doc, c.sids, c.title)
            outcomes.add(got)
    assert outcomes == {True, False}
