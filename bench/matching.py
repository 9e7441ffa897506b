"""Benchmark the topic matcher: 10,000 generated queries against >= 2,000 real article texts.

    .venv/bin/python bench/matching.py [--queries 10000] [--docs 2400] [--baseline-docs 200]

Documents come from the 181 hand-checked article bodies of the AEB corpus
(`shared/corpus/aeb/ground-truth.json`): each article gives its full text, its sections
(runs of 3-5 paragraphs) and paragraph-shuffled copies, until the wanted count is reached.
Titles are the first sentence of each document's text (the corpus has no titles). Language is
detected once per source article at set-up (stored articles carry one) and is not timed.

Queries are built from words and adjacent word pairs of the same texts, in mixed forms:
words, implicit AND, OR groups, phrases, exclusions, NEAR/n, prefixes, title:, site:, -site:.

Both modes run in the same process with identically compiled matchers: presearch over all
documents, the no-presearch baseline over the first --baseline-docs documents (it evaluates
every query on every document, so it is slow). The docs/s figures and the ratio time what
`newsmon topics match` does: decide which queries match each document (analysis included, no
TopicHit built). Building TopicHits (terms, snippet, highlights, score: the crawl path,
`TopicMatcher.match`) is timed separately on its own line. Both the match decisions and the
TopicHits are compared on the documents both modes saw; the script exits 1 if they differ.

The presearcher learns which terms are rare from the documents it sees (re-planning after the
first 256); that learning and the re-plan happen inside the timed presearch run.
Once the matcher is built, the collector is set as `newsmon topics match` sets it
(`monitor.gcpolicy.keep_what_is_built`). Memory is the tracemalloc peak of compiling the queries
and building the matcher (and its per-language presearch indexes). Everything runs on one core
(one thread).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor import gcpolicy
from monitor.topics import (
    Document,
    QueryError,
    TopicMatcher,
    compile_topic,
    normalize,
)

SHARED = Path(os.environ.get("NEWSMON_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")
GROUND_TRUTH = SHARED / "corpus" / "aeb" / "ground-truth.json"
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[^\W\d_]{4,}")


def load_articles() -> list[dict]:
    data = json.loads(GROUND_TRUTH.read_text(encoding="utf-8"))
    articles = []
    for key in sorted(data):
        body = data[key].get("articleBody") or ""
        if len(body.split()) >= 30:
            articles.append({"id": key[:12], "body": body, "url": data[key].get("url") or ""})
    for article in articles:
        article["lang"] = normalize.detect_language(article["body"])
    return articles


def _doc(doc_id: str, paragraphs: list[str], article: dict) -> Document:
    text = "\n\n".join(paragraphs)
    title = _SENTENCE.split(text.strip(), maxsplit=1)[0][:160]
    return Document(id=doc_id, title=title, text=text, url=article["url"], lang=article["lang"])


def make_documents(articles: list[dict], count: int, rng: random.Random) -> list[Document]:
    """Full articles, then 3-5 paragraph sections, then shuffled copies, until `count`."""
    docs: list[Document] = []
    split = {a["id"]: [p for p in re.split(r"\n\s*\n|\n", a["body"]) if p.strip()] for a in articles}
    for a in articles:
        docs.append(_doc(f"{a['id']}-full", split[a["id"]], a))
    for a in articles:
        paragraphs, i, n = split[a["id"]], 0, 0
        while i < len(paragraphs):
            size = rng.randint(3, 5)
            docs.append(_doc(f"{a['id']}-s{n}", paragraphs[i : i + size], a))
            i, n = i + size, n + 1
    copy = 0
    while len(docs) < count:
        a = articles[copy % len(articles)]
        shuffled = split[a["id"]][:]
        rng.shuffle(shuffled)
        keep = shuffled[: max(3, len(shuffled) * 2 // 3)]
        docs.append(_doc(f"{a['id']}-x{copy}", keep, a))
        copy += 1
    rng.shuffle(docs)
    return docs[:count]


def _key(word: str, lang: str) -> str:
    """Rarity is judged on stems: 'lasting' is as common as 'last' to the matcher."""
    return normalize.stem(normalize.fold(word), normalize.stem_language(lang))


FORMS = (
    "rare AND rare",
    "a AND b",
    "a AND (b OR c)",
    '"three word phrase"',
    "rare AND c -b",
    "x NEAR/n y",
    "prefix* AND b",
    "title:a OR (b AND c)",
    "rare site:host",
    "a AND b -site:host",
    '("two words" OR rare) AND c NOT b',
    "(a OR b) AND (c OR d) NOT title:e",
)


def make_queries(articles: list[dict], count: int, rng: random.Random) -> list[tuple[str, str]]:
    """(id, query) pairs drawn from the articles' own words, in the forms the language offers."""
    doc_freq: Counter[str] = Counter()
    words_of: list[list[str]] = []
    key_of: dict[str, str] = {}  # word as written -> stem in its article's language
    for a in articles:
        words = _WORD.findall(a["body"])
        words_of.append(words)
        for w in words:
            key_of.setdefault(w, _key(w, a["lang"]))
        doc_freq.update({key_of[w] for w in words})
    # content-ish words: in more than one article, but not in most of them
    limit = max(3, len(articles) // 10)
    ok = {w for w, n in doc_freq.items() if 2 <= n <= limit}
    hosts = sorted({(urlsplit(a["url"]).hostname or "").removeprefix("www.") for a in articles} - {""})

    rare = {w for w in ok if doc_freq[w] <= 3}
    surface: dict[str, str] = {}
    for words in words_of:
        for w in words:
            surface.setdefault(key_of[w], w)
    rare_list = sorted(surface[k] for k in rare if k in surface)
    ok_list = sorted(surface[k] for k in ok if k in surface)

    def pick(words: list[str], pool: set[str] = ok) -> str:
        """A word of `words` that is in `pool` (content words; or rare ones), else any pool word."""
        for _ in range(30):
            w = rng.choice(words)
            if key_of[w] in pool:
                return w
        return rng.choice(rare_list if pool is rare else ok_list)

    def near_pair(words: list[str]) -> tuple[str, str]:
        i = rng.randrange(max(1, len(words) - 6))
        return words[i], words[min(len(words) - 1, i + rng.randint(1, 5))]

    def other() -> list[str]:
        """Words of the same article 30% of the time (likely to match), else of another one."""
        return words if rng.random() < 0.3 else words_of[rng.randrange(len(words_of))]

    queries = []
    for qi in range(count):
        words = words_of[rng.randrange(len(words_of))]
        a, b, c = pick(words), pick(other()), pick(other())
        form = qi % len(FORMS)  # query qi has form FORMS[qi % 12]
        if form == 0:
            q = f"{pick(words, rare)} {pick(other(), rare)}"
        elif form == 1:
            q = f"{a} {b}"
        elif form == 2:
            q = f"{a} ({b} OR {c})"
        elif form == 3:
            i = rng.randrange(max(1, len(words) - 3))
            q = f'"{" ".join(words[i : i + 3])}"'
        elif form == 4:
            q = f"{pick(words, rare)} {c} -{b}"
        elif form == 5:
            x, y = near_pair(words)
            q = f"{x} NEAR/{rng.randint(2, 8)} {y}"
        elif form == 6:
            q = f"{pick(words, rare)[: rng.randint(5, 7)]}* {b}"
        elif form == 7:
            q = f"title:{a} OR {b} AND {c}"
        elif form == 8:
            q = f"{pick(words, rare)} site:{rng.choice(hosts)}"
        elif form == 9:
            q = f"{a} {b} -site:{rng.choice(hosts)}"
        elif form == 10:
            i = rng.randrange(max(1, len(words) - 2))
            q = f'("{words[i]} {words[i + 1]}" OR {pick(other(), rare)}) {c} NOT {b}'
        else:
            q = f"({a} OR {b}) AND ({c} OR {pick(other())}) NOT title:{pick(words)}"
        queries.append((f"q{qi:05d}", q))
    return queries


def compile_all(queries: list[tuple[str, str]]):
    topics = []
    for qid, q in queries:
        try:
            topics.append(compile_topic(qid, query=q))
        except QueryError as exc:  # generator bug: report, do not hide
            raise SystemExit(f"generated query {qid} does not compile:\n{exc}") from exc
    return topics


def timed(fn, docs: list[Document]) -> tuple[float, list]:
    gc.collect()  # the garbage of the previous run is not this one's
    start = time.perf_counter()
    results = [fn(doc) for doc in docs]
    return time.perf_counter() - start, results


def decide(matcher: TopicMatcher):
    """What `topics match` does per document: which queries match (ids), no TopicHit built."""
    topics = matcher.topics

    def fn(doc: Document) -> list[str]:
        return [topics[i].name for i in matcher.matching(matcher.analyse(doc))]

    return fn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--docs", type=int, default=2_400)
    parser.add_argument("--baseline-docs", type=int, default=200, help="docs for the no-presearch run")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if not GROUND_TRUTH.is_file():
        print(f"SKIP: {GROUND_TRUTH} not found (set NEWSMON_SHARED to the shared directory)")
        return 0
    rng = random.Random(args.seed)
    articles = load_articles()
    docs = make_documents(articles, args.docs, rng)
    queries = make_queries(articles, args.queries, rng)
    langs = Counter(d.lang for d in docs)
    words = sum(len(normalize.WORD_RE.findall(d.title + " " + d.text)) for d in docs) / len(docs)
    print(
        f"docs: {len(docs)} from {len(articles)} AEB articles, avg {words:.0f} words; languages {dict(langs)}"
    )
    print(f"queries: {len(queries)}")

    tracemalloc.start()
    topics = compile_all(queries)
    matcher = TopicMatcher(topics, presearch=True)
    for lang in langs:  # build the per-language presearch indexes inside the measurement
        matcher.match(Document("warm", "", "", "", lang))
    _, peak = tracemalloc.get_traced_memory()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"memory: {current / 2**20:.1f} MiB held by {len(topics)} compiled queries + matcher"
        f" (peak {peak / 2**20:.1f} MiB)"
    )

    baseline = TopicMatcher(topics, presearch=False)
    baseline.match(docs[0])  # same warm-up for the vocabulary stems
    gcpolicy.keep_what_is_built()  # as `newsmon topics match` does once its matcher is built
    base_docs = docs[: args.baseline_docs]

    # 1. the figure: match decisions (which query ids match which documents), both modes
    t_pre, ids_pre = timed(decide(matcher), docs)
    t_base, ids_base = timed(decide(baseline), base_docs)
    # 2. the crawl path: TopicHit objects (terms, snippet, highlights, score) for every match
    t_hits, hits_pre = timed(matcher.match, docs)
    t_hits_base, hits_base = timed(baseline.match, base_docs)

    rate_pre, rate_base = len(docs) / t_pre, len(base_docs) / t_base
    matches = sum(len(h) for h in ids_pre)
    sample = docs[:200]
    candidates = sum(len(matcher.presearcher.candidates(matcher.analyse(d))) for d in sample) / len(sample)
    per_form = Counter(int(name[1:]) % len(FORMS) for ids in ids_pre for name in ids)
    print("query forms (equal shares), matches per doc of each form:")
    for f, form in enumerate(FORMS):
        print(f"  {form:36s} {per_form[f] / len(docs):6.2f}")
    print(
        f"matches: {matches} ({matches / len(docs):.1f} per doc, {matches / len(docs) / len(topics):.2%} of"
        f" the queries); presearch candidates/doc: {candidates:.0f}"
    )
    print(f"presearch:    {rate_pre:8.0f} docs/s  ({len(docs)} docs in {t_pre:.2f}s; match decisions)")
    print(f"no presearch: {rate_base:8.1f} docs/s  ({len(base_docs)} docs in {t_base:.2f}s; match decisions)")
    print(f"ratio:        {rate_pre / rate_base:8.1f}x")
    print(
        f"with TopicHits (snippet, highlights, score): presearch {len(docs) / t_hits:.0f} docs/s,"
        f" no presearch {len(base_docs) / t_hits_base:.1f} docs/s"
        f" (hit building {(t_hits - t_pre) / max(1, matches) * 1e6:.0f} us per hit)"
    )

    n = len(base_docs)
    for what, fast, slow in (("match ids", ids_pre[:n], ids_base), ("TopicHits", hits_pre[:n], hits_base)):
        if fast != slow:
            bad = next(i for i, (x, y) in enumerate(zip(fast, slow, strict=True)) if x != y)
            doc_id = base_docs[bad].id
            print(f"MISMATCH ({what}) on doc {doc_id}: presearch {fast[bad]} vs baseline {slow[bad]}")
            return 1
    if [[h.topic for h in hits] for hits in hits_pre] != ids_pre:
        print("MISMATCH: match() and matching() disagree")
        return 1
    print(f"outputs identical (match ids and TopicHits) on the {n} docs both modes ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
