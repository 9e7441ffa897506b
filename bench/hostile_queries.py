"""Time the matcher on the worst cases a review found: queries and pages built to make it slow.

    .venv/bin/python bench/hostile_queries.py

A crawl matches every stored article in a worker process; a page that makes one query take
minutes stalls that worker. Each case prints its seconds and its answer (which tests check).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.topics import Document, TopicMatcher, compile_topic

CASES = [
    (
        "phrase of 22 words equal to their own compounds",
        '"' + " ".join(["ing"] * 22) + ' zzz"',
        "-".join(["ing"] * 24) + " zzy zzz",
    ),
    (
        "phrase of 1,000 words through a compound",
        '"' + " ".join(f"w{i}" for i in range(1000)) + '"',
        "w0w1 " + " ".join(f"w{i}" for i in range(2, 1000)),
    ),
    (
        "prefix NEAR word, 10,000 of each far apart",
        "russ* NEAR/5 talks",
        " ".join(["russia"] * 10_000 + ["filler"] * 2_000 + ["talks"] * 10_000),
    ),
    ("phrase NEAR OR, same page", '"russia" NEAR/5 (talks OR negotiations)', ""),
    ("NEAR/1000 hits on 3,000 x 'russia talks'", "russia NEAR/1000 talks", " ".join(["russia talks"] * 3000)),
]


def main() -> int:
    far = CASES[2][2]
    for name, query, text in CASES:
        matcher = TopicMatcher([compile_topic("q", query=query)])
        doc = Document("d", "", text or far, lang="en")
        start = time.perf_counter()
        hits = matcher.match(doc)
        took = time.perf_counter() - start
        print(f"{took:8.3f} s  {'match' if hits else 'no match':8s}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
