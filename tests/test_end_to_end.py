"""newsmon crawl -> newsmon digest --now against real servers on 127.0.0.1."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from conftest import newsmon, write_config

from monitor.sample_site.server import Reply

pytestmark = pytest.mark.slow

TOPICS = """\
topics:
  ceasefire:
    keywords: ["ceasefire talks", "cease-fire negotiations", truce, "перемир'я",
               "переговори про припинення вогню"]
  kursk:
    query: 'Kursk (offensive OR advance) -baseball'
recipients:
  - email: alice@example.org
    topics: [ceasefire, kursk]
    at: "07:00"
    timezone: Europe/Kyiv
"""

EXPECTED = {  # sample-site article -> topics a reader would want it under
    "/news/kursk-front-line.html": "kursk",
    "/news/geneva-ceasefire-talks.html": "ceasefire",
    "/news/pereemyria-ukr.html": "ceasefire",
}


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


def config_text(mongo_uri: str, data_dir: Path, feeds: list[tuple[str, str]], smtp_port: int | None) -> str:
    feed_lines = "".join(f"  - url: {url}\n    name: {name}\n" for name, url in feeds)
    mail = 'mail:\n  from: "newsmon <newsmon@example.org>"\n'
    if smtp_port:
        mail += f"  smtp: smtp+plain://127.0.0.1:{smtp_port}\n"
    return (
        f"storage:\n  mongodb_uri: {mongo_uri}\n  data_dir: {data_dir}\n"
        f"crawl:\n  every: 30m\n  timeout: 5s\n  retries: 1\n"
        f"feeds:\n{feed_lines}{TOPICS}{mail}"
    )


def digest_links(message) -> set[str]:
    html = message.get_payload()[1].get_payload(decode=True).decode()
    return {path for path in EXPECTED if path in html}


def test_crawl_then_digest_delivers_each_match_once(tmp_path, site, smtp, mongo_uri):
    box, port = smtp
    site.routes["/feeds/broken.xml"] = Reply(
        200, b"<html><body>Gateway says hello</body></html>", {"Content-Type": "text/html"}
    )
    site.routes["/feeds/error.xml"] = Reply(500, b"boom", {"Content-Type": "text/plain"})
    feeds = [
        ("world", site.url("/feeds/world.xml")),
        ("sport", site.url("/feeds/sport.atom")),
        ("ua", site.url("/feeds/ua.rdf")),
        ("broken", site.url("/feeds/broken.xml")),
        ("error", site.url("/feeds/error.xml")),
        ("dead", f"http://127.0.0.1:{dead_port()}/rss.xml"),
    ]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, port))

    first = newsmon(config, "crawl")
    assert first.returncode == 0, first.stderr
    assert "new articles: 7" in first.stdout
    assert "new matches: 3" in first.stdout
    for name in ("broken", "error", "dead"):
        assert f"failed: {name}:" in first.stdout
    assert "failed: error: HTTP 500" in first.stdout
    assert "failed: broken: the URL serves an HTML page, not a feed: look for the page's RSS" in first.stdout

    sent = newsmon(config, "digest", "--now")
    assert sent.returncode == 0, sent.stderr
    assert len(box.messages) == 1
    mail = box.messages[0]
    assert mail["To"] == "alice@example.org" and mail["Message-ID"] and mail["Date"]
    assert mail.get_content_type() == "multipart/alternative"
    assert digest_links(mail) == set(EXPECTED)
    text = mail.get_payload()[0].get_payload(decode=True).decode()
    assert "Kursk baseball" not in text and "grain export" not in text  # excluded and decoy articles
    assert "Getty Images" not in text and "Baseball Hustle" not in text  # photo credit, spam links

    again = newsmon(config, "crawl")
    assert again.returncode == 0, again.stderr
    assert "new articles: 0" in again.stdout and "new matches: 0" in again.stdout
    article_hits = [h for p in EXPECTED for h in site.hits(p)]
    assert len(article_hits) == len(EXPECTED)  # no article was fetched twice
    world = site.hits("/feeds/world.xml")
    assert world[-1].get("If-None-Match")  # the re-crawl asked conditionally
    assert len(site.hits("/robots.txt")) == 1  # and kept robots.txt from the first crawl

    newsmon(config, "digest", "--now")
    assert len(box.messages) == 1  # nothing new: no mail


def test_failed_send_is_retried_then_delivered_once(tmp_path, site, smtp, mongo_uri):
    box, port = smtp
    feeds = [("world", site.url("/feeds/world.xml"))]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, port))
    assert newsmon(config, "crawl").returncode == 0

    box.refuse = True
    failed = newsmon(config, "digest", "--now")
    assert failed.returncode == 1 and "failed" in failed.stdout
    assert box.messages == []

    box.refuse = False
    ok = newsmon(config, "digest", "--now")
    assert ok.returncode == 0, ok.stderr
    assert len(box.messages) == 1
    assert digest_links(box.messages[0]) == {
        "/news/kursk-front-line.html",
        "/news/geneva-ceasefire-talks.html",
    }

    newsmon(config, "digest", "--now")
    assert len(box.messages) == 1


def test_every_feed_failing_exits_1_with_one_line_per_failure(tmp_path, mongo_uri):
    port = dead_port()
    with socket.socket() as silent:  # accepts connections (the kernel does) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        feeds = [
            ("dead", f"http://127.0.0.1:{port}/rss.xml"),
            ("nohost", "http://newsmon-test.invalid/rss.xml"),  # .invalid never resolves (RFC 2606)
            ("silent", f"http://127.0.0.1:{silent.getsockname()[1]}/rss.xml"),
        ]
        text = config_text(mongo_uri, tmp_path / "var", feeds, None).replace("timeout: 5s", "timeout: 1s")
        config = write_config(tmp_path / "monitor.yaml", text)
        done = newsmon(config, "crawl")
    assert done.returncode == 1
    # in plain words, not "DownloadConnectionRefusedError: Connection was refused by other side: 111: ..."
    assert f"failed: dead: connection refused by 127.0.0.1:{port}\n" in done.stdout
    assert "failed: nohost: host not found: newsmon-test.invalid\n" in done.stdout
    assert "failed: silent: timed out after 1 s\n" in done.stdout
    assert "Traceback" not in done.stderr  # Scrapy's robots.txt middleware logged ~80 lines here
    assert "robots.txt not downloaded for <GET http://127.0.0.1:" in done.stderr  # one line, saying so
    # the feed's failure once, in the summary: not also as a WARNING, nor Scrapy's "Gave up
    # retrying" at ERROR (with -v, an INFO line says it as it happens)
    assert "feed dead failed" not in done.stderr
    assert "Gave up retrying" not in done.stderr and "ERROR" not in done.stderr, done.stderr


def test_dry_run_renders_without_recording(tmp_path, site, mongo_uri):
    feeds = [("world", site.url("/feeds/world.xml"))]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, None))
    assert newsmon(config, "crawl").returncode == 0
    dry = newsmon(config, "digest", "--now", "--dry-run")
    assert dry.returncode == 0 and "dry-run" in dry.stdout
    real = newsmon(config, "digest", "--now")
    assert "sent (2 items)" in real.stdout  # the dry run recorded nothing
    outbox = sorted((tmp_path / "var" / "outbox").glob("*.eml"))
    assert len(outbox) == 2 and sum("dry-run" in p.name for p in outbox) == 1


def test_digest_without_now_sends_only_when_due(tmp_path, site, smtp, mongo_uri):
    from datetime import UTC, datetime, timedelta

    box, port = smtp
    feeds = [("world", site.url("/feeds/world.xml"))]
    # a zone where it is now around noon, so that "5 minutes ago" is today there at any hour
    hours = 12 - datetime.now(UTC).hour  # Etc/GMT-N is N hours ahead of UTC (POSIX signs)
    zone = f"Etc/GMT{'-' if hours > 0 else '+'}{abs(hours)}" if hours else "UTC"
    text = config_text(mongo_uri, tmp_path / "var", feeds, port).replace(
        "timezone: Europe/Kyiv", f"timezone: {zone}"
    )
    passed = (datetime.now(UTC) + timedelta(hours=hours, minutes=-5)).strftime("%H:%M")
    config = write_config(tmp_path / "monitor.yaml", text.replace('at: "07:00"', f'at: "{passed}"'))
    assert newsmon(config, "crawl").returncode == 0
    first = newsmon(config, "digest")
    assert "alice@example.org: sent (2 items)" in first.stdout and len(box.messages) == 1
    second = newsmon(config, "digest")
    assert "alice@example.org: not-due" in second.stdout and len(box.messages) == 1


def test_an_article_whose_page_404s_keeps_the_feeds_description_not_its_photo_caption(
    tmp_path, site, mongo_uri
):
    """NYT's feed gives each item a <description> and a <media:description>, the photo's caption;
    with the page gone for good, the description is the article's text, and what topics match."""
    import json

    feed = (Path(__file__).parent / "data" / "feeds" / "nyt_world_2024_media.xml").read_bytes()
    feed = feed.replace(b"https://www.nytimes.com/", site.url("/gone/").encode())  # no such pages
    site.routes["/feeds/nyt.xml"] = Reply(200, feed, {"Content-Type": "application/rss+xml"})
    feeds = [("nyt", site.url("/feeds/nyt.xml"))]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, None))
    crawl = newsmon(config, "crawl")
    assert crawl.returncode == 0, crawl.stderr
    assert "new articles: 3" in crawl.stdout
    kursk = "/gone/2024/08/08/world/europe/russia-border-ukraine.html"
    assert site.hits(kursk)  # asked for, and answered 404
    exported = newsmon(config, "export")
    assert exported.returncode == 0, exported.stderr
    articles = {a["url"]: a for a in map(json.loads, exported.stdout.splitlines())}
    article = articles[site.url(kursk)]
    assert article["text"] == (
        "The local government in the Russian region of Kursk declared a state of emergency as military"
        " analysts reported that Ukrainian forces had advanced several miles across the border."
    )
    assert article["topics"] == ["kursk"]
    assert not any("A photo provided by" in a["text"] for a in articles.values())
