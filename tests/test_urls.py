"""Canonical URLs: the same article through different links is one URL."""

import pytest

from monitor.urls import canonical_url, is_http_url


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("HTTPS://News.Example.ORG:443/a/b.html", "https://news.example.org/a/b.html"),
        ("http://news.example.org:80/a", "http://news.example.org/a"),
        ("http://news.example.org:8080/a", "http://news.example.org:8080/a"),
        ("https://n.example/a?utm_source=rss&utm_medium=feed&id=7", "https://n.example/a?id=7"),
        ("https://n.example/a?fbclid=XYZ&gclid=1", "https://n.example/a"),
        ("https://n.example/a#comments", "https://n.example/a"),
        ("https://n.example", "https://n.example/"),
        ("https://n.example/x/../a/./b", "https://n.example/a/b"),
        ("https://n.example/caf%C3%A9", "https://n.example/caf%C3%A9"),
        ("https://n.example/café", "https://n.example/caf%C3%A9"),
        ("https://n.example/Path/Case?B=2&a=1", "https://n.example/Path/Case?B=2&a=1"),
    ],
)
def test_canonical_url(given, canonical):
    assert canonical_url(given) == canonical


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://n.example/a", True),
        ("HTTP://N.example:8080/a", True),
        ("http://[::1]:8080/a", True),
        ("ftp://n.example/a", False),
        ("/relative/a", False),
        ("http:///no-host", False),
        ("http://n.example:abc/a", False),  # urllib splits these, then fails on .port
        ("http://n.example:99999/a", False),
        ("http://[::1/a", False),  # and these it cannot split at all
    ],
)
def test_is_http_url(url, ok):
    """What `canonical_url` may be given: links from feeds and pages are checked with this first."""
    assert is_http_url(url) is ok
    if ok:
        assert canonical_url(url).startswith("http")
