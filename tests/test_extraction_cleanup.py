"""Cleanup rules, each shown on hand-written pages it was not written for, and the seed article's page."""

from __future__ import annotations

from pathlib import Path

import pytest
from trafilatura.utils import load_html

from monitor.extraction import extract_article
from monitor.extraction.body import extract_body
from monitor.extraction.cleanup import RULES, clean_lines, clean_text

PAGES = Path(__file__).parent / "data" / "pages"
SEED_URL = "https://worlddispatch.test/2025/03/17/trump-putin-talks"


def _raw_body(name: str) -> str:
    return extract_body(load_html((PAGES / name).read_text("utf-8")))


def _without(rule_name: str) -> list:
    return [r for r in RULES if r.name != rule_name]


# (page, rule, a line the extractor keeps that only this rule removes)
CASES = [
    ("lakeside_flood.html", "photo_credit", "Photo: Maria Lopez/Reuters"),
    ("lakeside_flood.html", "photo_credit", "(Photo by John Smith/Getty Images)"),
    ("harbour_ferry.html", "copyright", "Copyright 2024 Harbour Times Media. All rights reserved."),
    (
        "lakeside_flood.html",
        "related",
        "Read more: City council approves new flood barriers for the east bank",
    ),
    (
        "lakeside_flood.html",
        "promo",
        "Sign up for our daily newsletter to get the latest Lakeside news delivered to your inbox.",
    ),
    ("lakeside_flood.html", "share", "Share: Facebook Twitter WhatsApp Email"),
    ("lakeside_flood.html", "share", "Follow the Lakeside Gazette on Twitter and Facebook for live updates."),
    ("lakeside_flood.html", "comments", "Comments (2)"),
]


@pytest.mark.parametrize(("page", "rule", "line"), CASES, ids=[f"{c[1]}:{c[2][:24]}" for c in CASES])
def test_each_rule_removes_its_line_on_a_foreign_page(page: str, rule: str, line: str) -> None:
    raw = _raw_body(page)
    assert line in raw.splitlines()  # the extractors alone keep it ...
    assert line in clean_text(raw, rules=_without(rule)).splitlines()  # ... no other rule removes it ...
    assert line not in clean_text(raw).splitlines()  # ... and this rule does


def test_trailing_dated_link_list_is_dropped() -> None:
    raw = _raw_body("harbour_ferry.html")
    dated = "- Ferry timetable changes for the summer season - 12 May 2024"
    assert dated in raw.splitlines()
    assert dated in clean_lines(raw.splitlines(), trailing_lists=False)
    cleaned = clean_text(raw)
    assert "timetable changes" not in cleaned
    assert cleaned.endswith("detour by road through the causeway towns.")


def test_list_after_related_marker_is_dropped() -> None:
    cleaned = clean_text(_raw_body("lakeside_flood.html"))
    assert "Five things to know" not in cleaned
    assert "Northfield Bridge to close" not in cleaned
    assert "the river gauge at Northfield Bridge had passed its warning level" in cleaned


def test_article_lists_and_sentences_survive() -> None:
    text = "\n".join(
        [
            "The council listed three reasons for the delay:",
            "- the contractor went bankrupt in March;",
            "- steel prices rose by a third.",
            "- A court case over the land is still open.",
            "Photographers and reporters waited outside the court for hours on Tuesday.",
            "Share prices fell by 3% after the announcement.",
            "He said the comments made by the minister were unfair to the workers who had waited.",
        ]
    )
    assert clean_text(text) == text


def test_leading_headline_repeat_is_dropped() -> None:
    text = "Ferry starts in June\nA night ferry will run from June.\nFerry starts in June"
    assert (
        clean_text(text, title="Ferry Starts in June")
        == "A night ferry will run from June.\nFerry starts in June"
    )


def test_newsweb_style_page_keeps_body_and_drops_chrome() -> None:
    art = extract_article((PAGES / "harbour_ferry.html").read_bytes(), "https://harbour-times.test/x")
    assert art.text.startswith("A night ferry between the outer islands")
    assert "morning market" in art.text
    for junk in (
        "AFP",
        "Getty",
        "cookies",
        "Morning Briefing",
        "inbox",
        "Share",
        "Telegram",
        "Related",
        "ceasefire",
        "reader_42",
        "No ferry will run on time",
        "All rights reserved",
        "rowing cup",
    ):
        assert junk not in art.text, junk


# ---------------------------------------------------------------- the seed article, as a page


def test_seed_page_drops_photo_credit_and_spam_links() -> None:
    art = extract_article((PAGES / "seed_article.html").read_bytes(), SEED_URL)
    assert "Pilipey" not in art.text and "Getty" not in art.text and "©" not in art.text
    assert "Baseball" not in art.text and "August 4, 2025" not in art.text
    assert art.text.startswith("On Monday, signs of intense combat were evident")
    assert art.text.endswith("particularly in Kursk and on Ukraine’s border.")
    assert "Kremlin spokesperson Dmitry Peskov confirmed" in art.text
    assert len(art.text.split("\n")) == 8  # the eight paragraphs of the seed


def test_seed_page_boilerplate_is_removed_by_cleanup_not_by_luck() -> None:
    raw = _raw_body("seed_article.html")
    assert "©Roman Pilipey / AFP - Getty Images" in raw.splitlines()
    assert any("Baseball Hustle" in line for line in raw.splitlines())
    cleaned = clean_text(raw)
    assert "Pilipey" not in cleaned and "Baseball" not in cleaned
