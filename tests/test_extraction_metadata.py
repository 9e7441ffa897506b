"""Metadata: title without the site suffix, published from each source in UTC, canonical, language."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.extraction import extract_article
from monitor.extraction.metadata import parse_date, strip_site_suffix
from monitor.models import FeedEntry

BODY = (
    "<p>The regional parliament approved the new transport plan on Thursday after a debate that lasted "
    "most of the night. The plan adds two tram lines and doubles the number of night buses.</p>"
    "<p>Opposition members said the budget was too small for the promised work, but the minister replied "
    "that the first contracts would be signed before the end of the year.</p>"
)


def page(head: str = "", body_extra: str = "", html_attrs: str = "") -> str:
    return (
        f"<!DOCTYPE html><html{html_attrs}><head><meta charset='utf-8'>{head}</head>"
        f"<body><article>{body_extra}{BODY}</article></body></html>"
    )


@pytest.mark.parametrize(
    ("title", "sites", "expected"),
    [
        ("Transport plan approved | Newsweb", ("Newsweb",), "Transport plan approved"),
        ("Transport plan approved - BBC News", ("BBC News",), "Transport plan approved"),
        ("Newsweb » Transport plan approved", ("Newsweb",), "Transport plan approved"),
        ("Q&A: what the plan means - for riders", (), "Q&A: what the plan means - for riders"),
    ],
)
def test_strip_site_suffix(title: str, sites: tuple[str, ...], expected: str) -> None:
    assert strip_site_suffix(title, sites) == expected


def test_title_element_suffix_is_stripped_without_site_name() -> None:
    art = extract_article(
        page("<title>Transport plan approved after all-night debate - Daily Courier</title>"),
        "https://courier.test/a",
    )
    assert art.title == "Transport plan approved after all-night debate"


def test_og_title_with_site_suffix_is_stripped() -> None:
    head = (
        '<meta property="og:site_name" content="Newsweb">'
        '<meta property="og:title" content="Transport plan approved | Newsweb">'
    )
    assert extract_article(page(head), "https://newsweb.test/a").title == "Transport plan approved"


@pytest.mark.parametrize(
    ("head", "body_extra", "url", "expected"),
    [
        (
            '<script type="application/ld+json">{"@context":"https://schema.org","@graph":[{"@type":"WebSite"},'
            '{"@type":"NewsArticle","datePublished":"2024-03-01T10:00:00+02:00"}]}</script>',
            "",
            "https://x.test/a",
            datetime(2024, 3, 1, 8, 0, tzinfo=UTC),
        ),
        (
            '<meta property="article:published_time" content="2024-03-01T10:00:00-05:00">',
            "",
            "https://x.test/a",
            datetime(2024, 3, 1, 15, 0, tzinfo=UTC),
        ),
        (
            "",
            '<time datetime="2024-03-01T23:30:00+09:00">1 March</time>',
            "https://x.test/a",
            datetime(2024, 3, 1, 14, 30, tzinfo=UTC),
        ),
        (
            '<meta name="date" content="Fri, 01 Mar 2024 10:00:00 GMT">',
            "",
            "https://x.test/a",
            datetime(2024, 3, 1, 10, 0, tzinfo=UTC),
        ),
        ("", "", "https://x.test/2024/03/01/plan-approved", datetime(2024, 3, 1, tzinfo=UTC)),
    ],
    ids=["json-ld", "article-meta", "time", "rfc822-meta", "url"],
)
def test_published_sources_in_utc(head: str, body_extra: str, url: str, expected: datetime) -> None:
    art = extract_article(page(head, body_extra), url)
    assert art.published == expected
    assert art.published.tzinfo is not None and art.published.utcoffset().total_seconds() == 0


def test_published_and_author_fall_back_to_feed_entry() -> None:
    when = datetime(2024, 2, 2, 12, 0, tzinfo=UTC)
    entry = FeedEntry(
        feed="f", key="k", link="https://x.test/a", title="Plan approved", author="Jo Kim", published=when
    )
    art = extract_article(page(), "https://x.test/a", entry=entry)
    assert art.published == when
    assert art.authors == ("Jo Kim",)
    assert art.title == "Plan approved"


def test_parse_date_naive_is_utc_and_garbage_is_none() -> None:
    assert parse_date("2024-03-01 10:00") == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert parse_date("yesterday-ish") is None
    assert parse_date("") is None


def test_canonical_and_image_are_made_absolute() -> None:
    head = '<link rel="canonical" href="/news/plan.html"><meta property="og:image" content="img/lead.jpg">'
    art = extract_article(page(head), "https://x.test/section/page.html?utm_source=feed")
    assert art.canonical_url == "https://x.test/news/plan.html"
    assert art.image == "https://x.test/section/img/lead.jpg"


def test_declared_language_wins_and_is_normalised() -> None:
    assert extract_article(page(html_attrs=' lang="de-AT"'), "https://x.test/a").language == "de"


def test_language_detected_when_undeclared() -> None:
    assert extract_article(page(), "https://x.test/a").language == "en"
    ukr = (
        "<p>Уряд затвердив новий план розвитку транспорту. Депутати обговорювали його всю ніч, "
        "а міністр пообіцяв підписати перші контракти до кінця року.</p>"
    )
    art = extract_article(f"<html><body><article>{ukr * 2}</article></body></html>", "https://x.test/a")
    assert art.language == "uk"


def test_authors_from_json_ld_list() -> None:
    head = (
        '<script type="application/ld+json">{"@type":"NewsArticle","author":['
        '{"@type":"Person","name":"A One"},'
        '{"@type":"Person","name":"B Two"}]}</script>'
    )
    assert extract_article(page(head), "https://x.test/a").authors == ("A One", "B Two")
