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
