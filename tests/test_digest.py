"""Digest selection and rendering: each article once, safe HTML, http(s) links only."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

from monitor.digest import build_digest, build_message, due_slot, highlight_html, render, safe_url
from monitor.models import DigestItem

NOW = datetime(2025, 3, 17, 12, 0, tzinfo=UTC)


def item(url: str, topic: str, score: float = 1.0, title: str = "A title", **kw) -> DigestItem:
    snippet = kw.pop("snippet", "Diplomats said the ceasefire talks would resume.")
    return DigestItem(
        article_url=url,
        title=title,
        feed=kw.pop("feed", "world"),
        published=NOW - timedelta(hours=1),
        topic=topic,
        topics=(topic,),
        snippet=snippet,
        highlights=kw.pop("highlights", ((18, 33),)),
        score=score,
        matched_at=NOW,
        **kw,
    )


def test_article_matching_two_topics_appears_once_under_its_best():
    items = [
        item("https://a.example/1", "ceasefire", 2.0),
        item("https://a.example/1", "kursk", 5.0),
        item("https://a.example/2", "ceasefire", 1.0),
    ]
    digest = build_digest("r@example.org", ("ceasefire", "kursk"), items, NOW)
    assert [(g.topic, [i.article_url for i in g.items]) for g in digest.groups] == [
        ("ceasefire", ["https://a.example/2"]),
        ("kursk", ["https://a.example/1"]),
    ]
    assert digest.groups[1].items[0].topics == ("ceasefire", "kursk")
    assert sorted(digest.articles) == ["https://a.example/1", "https://a.example/2"]


def test_items_ordered_by_score_then_newest():
    items = [item("https://a.example/low", "t", 1.0), item("https://a.example/high", "t", 3.0)]
    digest = build_digest("r@example.org", ("t",), items, NOW)
    assert [i.article_url for i in digest.groups[0].items] == [
        "https://a.example/high",
        "https://a.example/low",
    ]


def test_scraped_markup_is_escaped_and_unsafe_links_dropped():
    snippet = "<img src=x onerror=alert(1)> truce"
    at = snippet.index("truce")
    evil = item(
        "javascript:alert(1)",
        "t",
        title='<script>alert("x")</script>',
        snippet=snippet,
        highlights=((at, at + 5),),
    )
    text, html = render(build_digest("r@example.org", ("t",), [evil], NOW))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "<mark>truce</mark>" in html
    assert "javascript:" not in html and "javascript:" not in text
    assert "*truce*" in text


def test_safe_url():
    assert safe_url("https://news.example/a?b=1") == "https://news.example/a?b=1"
    bad_urls = (
        "javascript:alert(1)",
        "data:text/html,hi",
        "mailto:x@y",
        "//evil.example/x",
        "",
        "https://[::1/a",
    )
    for bad in bad_urls:
        assert safe_url(bad) == ""


def test_highlight_html_marks_exact_offsets():
    assert str(highlight_html("a truce & more", ((2, 7),))) == "a <mark>truce</mark> &amp; more"


def test_message_is_multipart_with_id_and_date():
    msg = build_message(
        build_digest("r@example.org", ("t",), [item("https://a.example/1", "t")], NOW),
        "newsmon <newsmon@example.org>",
    )
    assert msg.get_content_type() == "multipart/alternative"
    assert msg["Message-ID"].endswith("@example.org>") and msg["Date"]
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["Subject"] == "newsmon: 1 new article on t"


def test_the_due_slot_is_todays_time_in_the_recipients_zone_once_passed():
    kyiv_seven = due_slot(time(7, 0), "Europe/Kyiv", NOW)  # 07:00 in Kyiv is 05:00 UTC in March
    assert kyiv_seven == datetime(2025, 3, 17, 5, 0, tzinfo=UTC)
    early = datetime(2025, 3, 17, 4, 0, tzinfo=UTC)  # 06:00 in Kyiv: not yesterday's, nothing
    assert due_slot(time(7, 0), "Europe/Kyiv", early) is None
    late = datetime(2025, 3, 17, 22, 30, tzinfo=UTC)  # 00:30 on the 18th in Kyiv: a new day
    assert due_slot(time(7, 0), "Europe/Kyiv", late) is None


def test_feeds_failing_for_a_day_are_named_in_the_footer():
    digest = build_digest(
        "r@example.org", ("t",), [item("https://a.example/1", "t")], NOW, (("kyiv-post", "HTTP 503"),)
    )
    text, html = render(digest)
    assert "kyiv-post: HTTP 503" in text and "kyiv-post: HTTP 503" in html


def test_scraped_text_stays_on_its_line_and_loses_bidi_controls():
    """A title with line breaks must not forge items or links in the plain-text part."""
    breaks = "\n\r\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
    title = "Kursk: your account" + "".join(f"{b}https://evil.example/{i}" for i, b in enumerate(breaks))
    bidi = "".join(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
    evil = item(
        "https://a.example/1",
        "t",
        title=title + bidi + "\u202egnp.exe",
        feed="wire\nBcc: evil@x.example",
        snippet="The truce\u2028* held",
        highlights=((4, 9),),
    )
    digest = build_digest("r@example.org", ("t",), [evil], NOW, (("wire", "HTTP 503\r\n* fake"),))
    msg = build_message(digest, "newsmon <newsmon@example.org>")
    text = msg.get_body(preferencelist=("plain",)).get_content()
    html = msg.get_body(preferencelist=("html",)).get_content()
    lines = text.splitlines()
    assert [line for line in lines if "evil.example" in line] == [
        "* Kursk: your account "
        + " ".join(f"https://evil.example/{i}" for i in range(len(breaks)))
        + "gnp.exe"
    ]
    assert [line for line in lines if "Bcc" in line] == ["  wire Bcc: evil@x.example · 17 Mar 2025 11:00"]
    assert "  The *truce* * held" in lines and "- wire: HTTP 503 * fake" in lines
    assert not any(ch in text or ch in html for ch in bidi)


def test_an_article_published_long_before_it_was_found_is_not_news():
    """A feed added today whose items are from 2020: stored and matched now, never mailed as new."""
    old = replace(item("https://a.example/2020", "t"), published=datetime(2020, 9, 29, tzinfo=UTC))
    week = replace(item("https://a.example/week", "t"), published=NOW - timedelta(days=7))
    older = replace(item("https://a.example/8days", "t"), published=NOW - timedelta(days=7, minutes=1))
    undated = replace(item("https://a.example/undated", "t"), published=None)
    fresh = item("https://a.example/fresh", "t")
    digest = build_digest("r@example.org", ("t",), [old, week, older, undated, fresh], NOW)
    assert sorted(digest.articles) == [
        "https://a.example/fresh",
        "https://a.example/undated",
        "https://a.example/week",
    ]
    # what counts is when the match was stored, not when the digest goes out
    late = replace(fresh, published=NOW - timedelta(days=20), matched_at=NOW - timedelta(days=14))
    assert build_digest("r@example.org", ("t",), [late], NOW).articles == ["https://a.example/fresh"]
    assert not build_digest("r@example.org", ("t",), [old], NOW).groups
