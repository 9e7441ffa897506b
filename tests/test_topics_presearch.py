"""The presearcher only skips work: results equal evaluating every query on every document."""

from __future__ import annotations

import json
import random
from pathlib import Path

from monitor.topics import Document, TopicMatcher, compile_topic
from monitor.topics.presearch import Presearcher

DATA = Path(__file__).parent / "data" / "topics"

TEXTS = [
    (
        "en",
        "Kursk offensive stalls",
        "Troops advance near Kursk while cease-fire talks in Geneva failed again.",
    ),
    ("en", "Software update", "The new software war-room tool helps negotiators; the ceasefire holds."),
    ("en", "Peace talks", "Russia said the peace talks would resume; Ukraine negotiators agreed."),
    ("fr", "Macron à l'Élysée", "Le président a reçu à l’Élysée les négociateurs du cessez-le-feu."),
    ("de", "Waffenstillstand", "Die Verhandlungen über einen Waffen-Stillstand an der Straße scheitern."),
    ("ru", "Переговоры", "Итоги переговоров в Стамбуле: наступление под Курском продолжается."),
    ("uk", "Перемир’я", "Сторони обговорили перемир'я та переговори щодо України."),
    ("en", "", "Baseball scores and cricket results, nothing about the war."),
]
URLS = ["https://news.example.org/a", "https://www.example.com/b", "https://example.ua/c", ""]


def _vocabulary() -> list[str]:
    words: list[str] = []
    for _, title, text in TEXTS:
        words.extend(w.strip(".,:;'’") for w in f"{title} {text}".split())
    return sorted({w for w in words if len(w) > 2 and w.isalpha()})


def generated_queries(n: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    vocab = _vocabulary()

    def w() -> str:
        return rng.choice(vocab)

    forms = [
        lambda: w(),
        lambda: f"{w()} {w()}",
        lambda: f"{w()} OR {w()}",
        lambda: f"{w()} ({w()} OR {w()}) -{w()}",
        lambda: f'"{w()} {w()}"',
        lambda: f"{w()} NEAR/{rng.randint(1, 6)} {w()}",
        lambda: f"{w()[:4]}* {w()}",
        lambda: f"{w()[:2]}* OR {w()}",  # short prefix: not indexable, always evaluated
        lambda: f"title:{w()} OR {w()}",
        lambda: f"{w()} site:example.org",
        lambda: f"{w()} -site:example.com",
        lambda: "site:example.ua",
        lambda: f"({w()} OR {w()}) NEAR/4 {w()}",
    ]
    return [rng.choice(forms)() for _ in range(n)]


def test_presearch_agrees_with_evaluating_everything() -> None:
    topics = [compile_topic(f"q{i:03d}", query=q) for i, q in enumerate(generated_queries(400))]
    docs = [
        Document(f"d{i}-{j}", title, text, url=URLS[(i + j) % len(URLS)], lang=lang if j == 0 else "")
        for i, (lang, title, text) in enumerate(TEXTS)
        for j in range(2)
    ]
    fast, slow = TopicMatcher(topics), TopicMatcher(topics, presearch=False)
    total = skipped = matched = 0
    for doc in docs:
        assert fast.match(doc) == slow.match(doc), doc.id
        analysis = fast.analyse(doc)
        total += len(topics)
        skipped += len(topics) - len(fast.presearcher.candidates(analysis))
        matched += len(fast.matching(analysis))
    # the comparison means something only if both outcomes and real skipping occur
    assert 0 < matched < total
    assert skipped > total // 2


def test_queries_without_positive_terms_are_always_evaluated() -> None:
    topics = [compile_topic("a", query="site:example.org"), compile_topic("b", query="ab* OR kursk")]
    matcher = TopicMatcher(topics)
    assert isinstance(matcher.presearcher, Presearcher)
    assert matcher.presearcher.always == [0, 1]
    doc = Document("d", "Nothing", "abc", url="https://example.org/", lang="en")
    assert [h.topic for h in matcher.match(doc)] == ["a", "b"]


def test_and_is_indexed_by_one_selective_child() -> None:
    matcher = TopicMatcher([compile_topic("t", query="the negotiators -war")])
    (plan,) = matcher.presearcher.plans
    assert plan is not None and len(plan) == 1
    (kind, uid) = next(iter(plan))
    assert kind == "w" and matcher.vocab.units[uid] == "negotiators"


def test_fixture_queries_agree_in_both_modes() -> None:
    queries = [json.loads(line) for line in (DATA / "queries.jsonl").read_text().splitlines()]
    docs = [json.loads(line) for line in (DATA / "docs.jsonl").read_text().splitlines()]
    topics = [compile_topic(q["id"], query=q["query"]) for q in queries]
    fast, slow = TopicMatcher(topics), TopicMatcher(topics, presearch=False)
    seen = set()
    for d in docs:
        doc = Document(d["id"], d["title"], d["text"], d["url"], d["lang"])
        hits = fast.match(doc)
        assert hits == slow.match(doc)
        seen.update((doc.id, h.topic) for h in hits)
    assert seen == {
        ("en1", "kursk"),
        ("en1", "talks"),
        ("fr1", "elysee"),
        ("uk1", "truce"),
        ("ru1", "talks"),
        ("de1", "truce"),
        ("de1", "talks"),
    }


def test_agreement_holds_across_replanning(monkeypatch) -> None:
    """After counting documents the presearcher re-plans from term statistics; still no change."""
    from monitor.topics import presearch

    monkeypatch.setattr(presearch, "REPLAN_AT", (3, 7, 11))
    monkeypatch.setattr(presearch, "SAMPLE_EVERY", 2)
    queries = generated_queries(300, seed=5)
    queries += [
        'title:"peace talks" OR negotiators',
        "title:kursk NEAR/3 offensive",
        "site:example.org talks",
    ]
    topics = [compile_topic(f"q{i:03d}", query=q) for i, q in enumerate(queries)]
    docs = [
        Document(f"d{i}-{j}", title, text, url=URLS[(i + j) % len(URLS)], lang=lang)
        for j in range(4)
        for i, (lang, title, text) in enumerate(TEXTS)
    ]
    fast, slow = TopicMatcher(topics), TopicMatcher(topics, presearch=False)
    plans_before = list(fast.presearcher.plans)
    for doc in docs:
        assert fast.match(doc) == slow.match(doc), doc.id
    assert fast.presearcher._replans == []  # all three re-plans happened
    assert fast.presearcher.plans != plans_before  # and changed something
