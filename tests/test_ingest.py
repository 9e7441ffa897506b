"""An article's identity (the URL it is stored under): the page's canonical link when it is a
plausible article URL on the same site, else the URL the page was fetched from."""

from __future__ import annotations

import pytest

from monitor.ingest import build_article
from monitor.models import FeedEntry, FetchedPage

FETCHED = "https://news.example/world/talks.html?utm_source=rss"
PARAGRAPHS = "".join(
    f"<p>Delegations met in Geneva on Monday for a {n} round of talks on a ceasefire, officials said.</p>"
    for n in ("first", "second", "third", "fourth", "fifth", "sixth")
)


@pytest.mark.parametrize(
    ("declared", "stored_as"),
    [
        ("https://news.example/world/2024/talks", "https://news.example/world/2024/talks"),
        ("https://www.news.example/world/talks", "https://www.news.example/world/talks"),  # www. is the site
        ("/world/talks-amp", "https://news.example/world/talks-amp"),  # made absolute
        ("https://news.example/", "https://news.example/world/talks.html"),  # every page -> home page
        ("https://news.example/world/", "https://news.example/world/talks.html"),  # -> its section front
        ("https://news.example/world/talks/", "https://news.example/world/talks/"),  # a folder-style URL
        ("https://other.example/world/talks", "https://news.example/world/talks.html"),  # another site
        # broken links (seen in the wild as typos) are ignored instead of failing the article:
        ("https://news.example:abc/world/talks", "https://news.example/world/talks.html"),
        ("https://news.example:99999/world/talks", "https://news.example/world/talks.html"),
        ("https://[news.example/world/talks", "https://news.example/world/talks.html"),
    ],
)
def test_the_canonical_link_decides_the_identity_when_plausible(declared, stored_as):
    page = (
        f'<html><head><title>Talks</title><link rel="canonical" href="{declared}"></head>'
        f"<body><article>{PARAGRAPHS}</article></body></html>"
    )
    entry = FeedEntry(feed="world", key="k1", link=FETCHED, title="Talks", summary="Talks resumed.")
    fetched = FetchedPage(url=FETCHED, status=200, content_type="text/html", body=page.encode())
    article = build_article(entry, fetched)
    assert article.source == "page"
    assert article.url == stored_as


def _page(title: str, canonical: str = "") -> bytes:
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    return (
        f"<html><head><title>{title}</title>{link}</head><body><article><h1>{title}</h1>{PARAGRAPHS}"
        f"</article></body></html>"
    ).encode()


def test_a_link_that_led_to_another_page_keeps_the_story_under_its_own_link():
    """Two stories redirected to one cookie wall stay two articles, each with its feed text."""
    consent = "https://news.example/consent?return=1"
    for n, title in enumerate(["Ceasefire talks resume in Geneva", "Grain corridor extended"]):
        link = f"https://news.example/world/story-{n}.html"
        entry = FeedEntry(
            feed="world", key=f"k{n}", link=link, title=title, summary=f"{title}, officials said."
        )
        page = FetchedPage(
            url=consent, status=200, content_type="text/html", body=_page("Your privacy choices")
        )
        article = build_article(entry, page)
        assert (article.url, article.source, article.title) == (link, "feed", title)
        assert article.note == "the link led to another page ('Your privacy choices')"
    # the same story behind a redirect is that story: stored under where it led
    entry = FeedEntry(feed="world", key="k", link="https://feeds.example/r/1", title="Ceasefire talks resume")
    page = FetchedPage(FETCHED, 200, "text/html", _page("Ceasefire talks resume in Geneva | News"))
    assert build_article(entry, page).url == "https://news.example/world/talks.html"


def test_a_canonical_link_is_followed_only_from_a_page_of_the_same_story():
    entry = FeedEntry(feed="world", key="k", link=FETCHED, title="Grain corridor extended")
    page = FetchedPage(FETCHED, 200, "text/html", _page("Grain corridor extended", "/world/grain"))
    assert build_article(entry, page).url == "https://news.example/world/grain"
    other = FeedEntry(feed="world", key="k", link=FETCHED, title="Ceasefire talks resume in Geneva")
    page = FetchedPage(FETCHED, 200, "text/html", _page("Grain corridor extended", "/world/grain"))
    article = build_article(other, page)  # a page whose title is not the entry's: its canonical may lie
    assert article.url == "https://news.example/world/talks.html" and article.source == "page"


@pytest.mark.parametrize(
    ("entry_title", "page_title", "same"),
    [
        ("Ceasefire talks resume", "Ceasefire talks resume in Geneva - Sample News", True),
        ("Перемир'я: переговори тривають", "Переговори про перемир'я тривають | Новини", True),
        ("停火谈判恢复", "停火谈判恢复 - 新闻网", True),
        ("Ceasefire talks resume", "Your privacy choices", False),
        ("Grain corridor extended for four months", "Sign in to your account", False),
        ("", "Anything", True),
    ],
)
def test_same_story(entry_title, page_title, same):
    from monitor.ingest import same_story

    assert same_story(entry_title, page_title) is same
