"""Golden pages: real AEB pages (tests/data/pages/*.html.gz) with hand-checked facts about them.

Facts rather than whole expected texts: the title, how the body starts and ends, what must not be in it,
and the metadata a reader can see on the page. The AEB ground truth itself is checked in the benchmark
(bench/extraction.py); the last test here runs the scorer's metric on these pages when shared/ is there.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.extraction import extract_article

PAGES = Path(__file__).parent / "data" / "pages"
SHARED = Path(os.environ.get("NEWSMON_SHARED", Path(__file__).resolve().parents[2] / "shared"))

GOLDEN = {
    "702d1da6": dict(
        url="https://www.nytimes.com/2019/11/18/business/trump-trade-war-china.html",
        title="Trump’s Made-for-TV Trade War Keeps World Guessing",
        starts="When President Trump’s advisers suggested that Beijing resume buying",
        contains="Peterson Institute in Washington.",
        absent=["Trade War Keeps World Guessing", "Advertisement"],
        language="en",
        authors=("Ana Swanson",),
        published=datetime(2019, 11, 18, tzinfo=UTC),
    ),
    "c7e39ac4": dict(
        url="https://www.bbc.com/news/world-europe-50473792",
        title="Sweden drops Assange rape investigation",
        starts="Prosecutors in Sweden have dropped an investigation into a rape allegation",
        contains="Westminster Magistrate's Court in London in February.",
        absent=["Julian Assange: Sweden drops rape investigation", "Share this with"],
        language="en",
    ),
    "359fee22": dict(
        url="https://www.sciencealert.com/we-finally-have-a-global-geological-map-of-saturn-s-moon-titan",
        title="The First Map of Saturn's Moon Titan Just Revealed Some Tantalising Features",
        starts="WASHINGTON (Reuters) - Scientists on Monday unveiled the first global geological map",
        contains="(Reporting by Will Dunham; Editing by Tom Brown)",
        absent=["© Reuters"],
        language="en",
    ),
    "3c6d3381": dict(
        url="http://www.wday.ru/articles/mastera-vkusa-i-krasotyi-23-samyih-krutyih-fudblogera-po-versii-wday-ru-id119898",
        title="Самые популярные кулинарные блоги и фудблогеры в Инстаграм по версии Wday.ru: список",
        starts="Наши герои знают толк не только во вкусе, но и в красоте еды.",
        contains="Аккаунт:",
        absent=[],
        language="ru",
        published=datetime(2018, 9, 24, 13, 45, tzinfo=UTC),
    ),
    "57b4dafd": dict(
        url="https://blog.comwrap.com/die-elektronische-patientenakte-der-lange-marsch-ins-digitale-gesundheitswesen",
        title="Die elektronische Patientenakte (ePA) – der lange Marsch ins Digitale Gesundheitswesen",
        starts="Die Digitalisierung als Wachstums- und Entwicklungstreiber",
        contains="nachhaltige Kostenersparnisse im Gesundheitssektor.",
        absent=[],
        authors=("Moritz Bachmann",),
    ),
    "686bb170": dict(
        url="https://www.space.com/jupiter-moon-europa-water-vapor-confirmed.html",
        title="The Weird Plumes of Jupiter's Moon Europa Are Spewing Water Vapor",
        starts="The Jupiter moon Europa's elusive and enigmatic water-vapor plumes do indeed seem to be real",
        contains="Europa",
        absent=["Related: Possible Water Plumes", "Photos: Europa, Mysterious Icy Moon"],
        language="en",
        authors=("Mike Wall",),
        published=datetime(2019, 11, 18, 20, 51, 19, tzinfo=UTC),
    ),
    "0ec95c72": dict(
        url="http://entermedia.co.kr/news/news_view.html?idx=8576",
        title="엘제이-류화영 진흙탕 싸움, 공적인 사안으로 봐야하는 이유",
        starts="",
        contains="엘제이의 리벤지인가",
        absent=[],
        language="ko",
    ),
}


def _load(prefix: str) -> bytes:
    (path,) = PAGES.glob(f"{prefix}*.html.gz")
    return gzip.decompress(path.read_bytes())


@pytest.mark.parametrize("prefix", sorted(GOLDEN))
def test_golden_page(prefix: str) -> None:
    facts = GOLDEN[prefix]
    art = extract_article(_load(prefix), facts["url"])
    assert art.title == facts["title"]
    assert art.text.startswith(facts["starts"])
    assert facts["contains"] in art.text
    for junk in facts["absent"]:
        assert junk not in art.text
    if "language" in facts:
        assert art.language == facts["language"]
    if "authors" in facts:
        assert art.authors == facts["authors"]
    if "published" in facts:
        assert art.published == facts["published"]
    assert art.canonical_url.startswith("http") or prefix == "0ec95c72"


def _shingles(text: str) -> Counter:
    toks = re.findall(r"\w+", text)
    return Counter(tuple(toks[i : i + 4]) for i in range(max(1, len(toks) - 3)))


def test_golden_pages_against_aeb_truth() -> None:
    truth_file = SHARED / "corpus" / "aeb" / "ground-truth.json"
    if not truth_file.exists():
        pytest.skip(f"{truth_file} is absent (the shared folder beside the repo holds the AEB truth)")
    truth = json.loads(truth_file.read_text("utf-8"))
    for path in sorted(PAGES.glob("*.html.gz")):
        doc_id = path.name.removesuffix(".html.gz")
        art = extract_article(gzip.decompress(path.read_bytes()), truth[doc_id]["url"])
        got, want = _shingles(art.text), _shingles(truth[doc_id]["articleBody"])
        common = sum((got & want).values())
        f1 = 2 * common / (sum(got.values()) + sum(want.values()))
        assert f1 >= 0.9, (doc_id, f1)
