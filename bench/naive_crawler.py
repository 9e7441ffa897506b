"""A deliberately naive, sequential feed crawler: the baseline ``bench/crawl.py`` measures newsmon against.

    python bench/naive_crawler.py FEED_URL [FEED_URL ...]

One request at a time with urllib, no conditional GETs, no gzip, no connection reuse: fetch each feed,
parse it with feedparser, follow every item link that robots.txt (``urllib.robotparser``, read once per
site) allows, and extract the page with ``trafilatura.extract``. This is what a first script written
against these libraries does, so it is the honest "why not just do this?" comparison for newsmon's
crawl: same parser, same extractor, none of the engineering.

Prints one JSON object on stdout (feeds, requests, pages, articles, robots skips, errors, wall seconds);
``bench/crawl.py`` measures its CPU from outside.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
import urllib.robotparser
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import feedparser
import trafilatura

USER_AGENT = "naive-crawler/1.0 (newsmon benchmark baseline)"
TIMEOUT_S = 30.0


@dataclass
class Tally:
    """What the crawl did; ``articles`` counts pages trafilatura returned text for."""

    feeds: int = 0
    requests: int = 0
    pages: int = 0
    articles: int = 0
    robots_skipped: int = 0
    errors: int = 0
    wall_s: float = 0.0


def fetch(url: str, tally: Tally) -> bytes | None:
    """GET ``url`` in full; None on any HTTP or network error (a baseline does not retry)."""
    tally.requests += 1
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
            return resp.read()
    except (urllib.error.URLError, OSError, ValueError):
        tally.errors += 1
        return None


def robots_for(url: str, cache: dict[str, urllib.robotparser.RobotFileParser], tally: Tally):
    """The site's robots.txt parser, fetched once per scheme+host."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if origin not in cache:
        rp = urllib.robotparser.RobotFileParser(origin + "/robots.txt")
        body = fetch(origin + "/robots.txt", tally)
        # unreachable robots.txt means "allow all", as RobotFileParser.read() would decide on a 404
        rp.parse(body.decode("utf-8", "replace").splitlines() if body is not None else [])
        cache[origin] = rp
    return cache[origin]


def crawl(feed_urls: list[str]) -> Tally:
    """Crawl every feed and every allowed item, strictly one request after another."""
    tally = Tally()
    robots: dict[str, urllib.robotparser.RobotFileParser] = {}
    start = time.perf_counter()
    for feed_url in feed_urls:
        body = fetch(feed_url, tally)
        if body is None:
            continue
        tally.feeds += 1
        for entry in feedparser.parse(body).entries:
            link = entry.get("link")
            if not link:
                continue
            if not robots_for(link, robots, tally).can_fetch(USER_AGENT, link):
                tally.robots_skipped += 1
                continue
            page = fetch(link, tally)
            if page is None:
                continue
            tally.pages += 1
            if trafilatura.extract(page, url=link):
                tally.articles += 1
    tally.wall_s = round(time.perf_counter() - start, 3)
    return tally


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("feeds", nargs="+", help="feed URLs, crawled in this order")
    args = ap.parse_args(argv)
    print(json.dumps(asdict(crawl(args.feeds))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
