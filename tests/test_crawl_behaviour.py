"""Crawl behaviour a site owner or a user notices: one article per story across feeds, robots.txt,
Retry-After, feed health, and nothing lost when the database goes away mid-crawl."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
import zlib
from pathlib import Path

import pymongo
import pytest
from conftest import newsmon, start_crawl, write_config
from test_end_to_end import config_text

from monitor.sample_site.server import Reply

pytestmark = pytest.mark.slow


def db(mongo_uri: str):
    client = pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=3000)
    return client, client.get_default_database()


def test_same_article_from_two_feeds_is_stored_once(tmp_path, site, mongo_uri):
    feeds = [("world", site.url("/feeds/world.xml")), ("copy", site.url("/feeds/world.xml?edition=intl"))]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, None))
    done = newsmon(config, "crawl")
    assert done.returncode == 0, done.stderr
    assert "new articles: 3" in done.stdout
    assert len(site.hits("/news/geneva-ceasefire-talks.html")) == 1
    client, database = db(mongo_uri)
    with client:
        doc = database.articles.find_one({"url": {"$regex": "geneva-ceasefire-talks"}})
        assert sorted(doc["feeds"]) == ["copy", "world"]
        assert "utm_" not in doc["url"]  # tracking parameters are not part of the identity
        # the raw page is kept, compressed, byte for byte as the site served it
        page = database.pages.find_one({"url": {"$regex": "geneva-ceasefire-talks"}})
        served = urllib.request.urlopen(site.url("/news/geneva-ceasefire-talks.html")).read()
        assert zlib.decompress(page["body_zlib"]) == served and page["size"] == len(served)


def test_robots_disallowed_pages_are_never_requested(tmp_path, site, mongo_uri):
    rss = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>P</title><link>http://x/</link>'
        b"<item><title>Members only: truce details</title><link>/private/truce.html</link>"
        b"<guid>p1</guid><description>A truce was agreed, officials said.</description></item>"
        b"</channel></rss>"
    )
    site.routes["/feeds/private.xml"] = Reply(200, rss, {"Content-Type": "application/rss+xml"})
    feeds = [("private", site.url("/feeds/private.xml"))]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, None))
    done = newsmon(config, "crawl")
    assert done.returncode == 0, done.stderr
    assert site.hits("/private/truce.html") == []
    assert "WARNING" not in done.stderr, done.stderr  # the politeness asked for is no failure
    client, database = db(mongo_uri)
    with client:
        doc = database.articles.find_one({})
        assert doc["source"] == "feed" and "truce was agreed" in doc["text"]  # kept from the feed, marked


def test_retry_after_is_honoured_and_health_is_shown(tmp_path, site, mongo_uri):
    site.routes["/feeds/busy.xml"] = Reply(429, b"slow down", {"Retry-After": "3600"})
    feeds = [("busy", site.url("/feeds/busy.xml")), ("world", site.url("/feeds/world.xml"))]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, None))
    first = newsmon(config, "crawl")
    assert "failed: busy: HTTP 429" in first.stdout
    assert len(site.hits("/feeds/busy.xml")) == 1  # not retried at once
    site.routes["/feeds/curt.xml"] = Reply(429, b"too many requests", {})  # and no word on when
    curt = write_config(
        tmp_path / "curt.yaml",
        config_text(mongo_uri, tmp_path / "var", [("curt", site.url("/feeds/curt.xml"))], None),
    )
    assert "failed: curt: HTTP 429" in newsmon(curt, "crawl").stdout
    assert len(site.hits("/feeds/curt.xml")) == 1  # not asked again within the second
    second = newsmon(config, "crawl")
    assert "failed: busy: server asked to wait until" in second.stdout
    third = newsmon(config, "crawl")  # waiting does not forget how long to wait
    assert "failed: busy: server asked to wait until" in third.stdout
    assert len(site.hits("/feeds/busy.xml")) == 1  # and not asked again before the time it gave
    table = newsmon(config, "feeds").stdout
    busy = next(line for line in table.splitlines() if line.startswith("busy"))
    assert " error " in busy and " 3 " in busy and "server asked to wait" in busy
    world = next(line for line in table.splitlines() if line.startswith("world"))
    assert " not-modified " in world and world.split()[-1] == "3"  # 3 articles


def test_a_feed_cut_short_in_transit_is_fetched_whole_by_the_next_crawl(tmp_path, site, mongo_uri):
    items = b"".join(
        b"<item><title>Truce update %d</title><link>/news/update-%d.html</link><guid>u%d</guid>"
        b"<description>Ceasefire talks, update %d.</description></item>" % (i, i, i, i)
        for i in range(10)
    )
    whole = b'<?xml version="1.0"?><rss version="2.0"><channel><title>U</title>' + items + b"</channel></rss>"
    cut = whole[: whole.index(b"<item><title>Truce update 6")] + b"<item><tit"
    headers = {"Content-Type": "application/rss+xml", "ETag": '"v1"'}
    site.routes["/feeds/updates.xml"] = Reply(200, cut, headers)  # what a dropped connection leaves
    feeds = [("updates", site.url("/feeds/updates.xml"))]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, None))
    first = newsmon(config, "crawl")
    assert first.returncode == 0 and "new articles: 6" in first.stdout, first.stdout + first.stderr
    assert "feed updates ends early" in first.stderr
    row = next(line for line in newsmon(config, "feeds").stdout.splitlines() if line.startswith("updates"))
    assert " partial " in row and "the document ends early" in row, row  # not shown as a plain "ok"
    site.routes["/feeds/updates.xml"] = Reply(200, whole, headers)  # same ETag: same document, whole
    second = newsmon(config, "crawl")
    row = next(line for line in newsmon(config, "feeds").stdout.splitlines() if line.startswith("updates"))
    assert " ok " in row and "ends early" not in row, row
    assert not site.hits("/feeds/updates.xml")[-1].get("If-None-Match")  # the cut copy's ETag was not kept
    assert "new articles: 4" in second.stdout, second.stdout + second.stderr
    third = newsmon(config, "crawl")
    assert site.hits("/feeds/updates.xml")[-1].get("If-None-Match") == '"v1"'
    assert "new articles: 0" in third.stdout


def test_a_page_that_fails_for_now_is_asked_again_and_one_that_keeps_failing_keeps_the_feed_text(
    tmp_path, site, mongo_uri
):
    rss = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>D</title><link>http://x/</link>'
        b"<item><title>Truce holds</title><link>/news/down.html</link><guid>d1</guid>"
        b"<description>Officials said the truce holds.</description></item>"
        b"<item><title>Truce tested</title><link>/news/gone.html</link><guid>d2</guid>"
        b"<description>The truce was tested overnight.</description></item>"
        b"</channel></rss>"
    )
    site.routes["/feeds/down.xml"] = Reply(200, rss, {"Content-Type": "application/rss+xml"})
    page = site._file("/news/geneva-ceasefire-talks.html")
    site.routes["/news/down.html"] = Reply(503, b"down for maintenance", {"Content-Type": "text/plain"})
    site.routes["/news/gone.html"] = Reply(504, b"gateway timeout", {"Content-Type": "text/plain"})
    feeds = [("down", site.url("/feeds/down.xml"))]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, None))
    first = newsmon(config, "crawl")
    assert "new articles: 0" in first.stdout and "asked again next crawl: 2" in first.stdout, first.stdout
    site.routes["/news/down.html"] = page  # back up
    assert first.stderr == "", first.stderr  # counted in the summary: a cron job mails no lines
    second = newsmon(config, "-v", "crawl")
    assert "new articles: 1" in second.stdout and "asked again next crawl: 1" in second.stdout, second.stdout
    # with -v each failure is one line in newsmon's words, not Scrapy's ERROR "Gave up retrying"
    assert "INFO: article http" in second.stderr
    assert "gone.html not fetched (HTTP 504); the next crawl tries again (2 of 3)" in second.stderr
    assert "ERROR" not in second.stderr, second.stderr  # Scrapy's "Gave up retrying" is INFO
    third = newsmon(config, "crawl")  # the third failure of gone.html is its last
    assert "new articles: 1" in third.stdout and "asked again" not in third.stdout, third.stdout
    assert "kept with the feed's text, their page not fetched (404, robots.txt, too large;" in third.stdout
    assert "-v names each): 1" in third.stdout and third.stderr == "", third.stderr
    assert "new articles: 0" in newsmon(config, "crawl").stdout
    assert len(site.hits("/news/gone.html")) == 3 * 2  # three crawls, each with one retry (retries: 1)
    client, database = db(mongo_uri)
    with client:
        down = database.articles.find_one({"source": "page"})  # under the page's canonical URL
        assert (
            down["title"] == "Diplomats prepare for ceasefire talks in Geneva"
            and "who would verify a truce" in down["text"]
        )
        gone = database.articles.find_one({"url": {"$regex": "gone.html"}})
        assert gone["source"] == "feed" and gone["text"] == "The truce was tested overnight."


def test_a_feed_refusing_its_own_validators_or_answering_304_unasked_is_reported(tmp_path, site, mongo_uri):
    def strict(server, handler) -> Reply:  # like a server that refuses headers that long
        if handler.headers.get("If-None-Match"):
            return Reply(400, b"Request Header Or Cookie Too Large", {"Content-Type": "text/plain"})
        return Reply(200, server._file("/feeds/world.xml").body, {"ETag": '"v1"'})

    site.routes["/feeds/strict.xml"] = strict
    site.routes["/feeds/lazy.xml"] = Reply(304, b"", {})
    long_etag = {"ETag": '"' + "L" * 9000 + '"'}  # sent back, too large a header for most servers
    site.routes["/feeds/long.xml"] = Reply(200, site._file("/feeds/world.xml").body, long_etag)
    feeds = [
        ("strict", site.url("/feeds/strict.xml")),
        ("lazy", site.url("/feeds/lazy.xml")),
        ("long", site.url("/feeds/long.xml")),
    ]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, None))
    first = newsmon(config, "crawl")
    assert "new articles: 3" in first.stdout, first.stdout
    assert "failed: lazy: HTTP 304 (not modified) to a request that had nothing to compare" in first.stdout
    second = newsmon(config, "crawl")
    assert "failed: strict: HTTP 400" in second.stdout
    third = newsmon(config, "crawl")  # asks without the validators the server refused
    assert "failed: strict" not in third.stdout and "2 fetched (0 not modified)" in third.stdout, third.stdout
    assert [bool(h.get("If-None-Match")) for h in site.hits("/feeds/strict.xml")] == [False, True, False]
    # a 9,000-character ETag is not kept: sent back, it would be refused as too large a header
    assert [bool(h.get("If-None-Match")) for h in site.hits("/feeds/long.xml")] == [False, False, False]


def test_an_article_in_a_redirect_loop_keeps_the_feed_text(tmp_path, site, mongo_uri):
    rss = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>L</title><link>http://x/</link>'
        b"<item><title>Truce in a loop</title><link>/news/loop1.html</link><guid>l1</guid>"
        b"<description>The truce holds, officials said.</description></item>"
        b"</channel></rss>"
    )
    site.routes["/feeds/loop.xml"] = Reply(200, rss, {"Content-Type": "application/rss+xml"})
    site.routes["/news/loop1.html"] = Reply(302, b"", {"Location": "/news/loop2.html"})
    site.routes["/news/loop2.html"] = Reply(302, b"", {"Location": "/news/loop1.html"})
    feeds = [("loop", site.url("/feeds/loop.xml"))]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, None))
    first = newsmon(config, "crawl")
    assert "new articles: 1" in first.stdout, first.stdout + first.stderr
    assert len(site.hits("/news/loop1.html")) + len(site.hits("/news/loop2.html")) == 11  # 10 redirects
    newsmon(config, "crawl")
    assert len(site.hits("/news/loop1.html")) + len(site.hits("/news/loop2.html")) == 11  # settled
    client, database = db(mongo_uri)
    with client:
        doc = database.articles.find_one({})
        assert doc["source"] == "feed" and doc["text"] == "The truce holds, officials said."


class _RudeServer:
    """Accepts connections on 127.0.0.1 and answers each with `reply` (raw bytes), then closes."""

    def __init__(self, reply: bytes):
        import socket
        import threading

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.reply = reply
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/feed.xml"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed: the test is over
                return
            with conn:
                conn.recv(65536)
                conn.sendall(self.reply)


def test_network_failures_are_reported_in_words_a_user_can_act_on(tmp_path, site, mongo_uri):
    silent = _RudeServer(b"")  # closes without a word
    cut = _RudeServer(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 1000\r\n\r\n<rss"
    )
    site.routes["/feeds/moved.xml"] = Reply(301, b"", {"Location": "file:///etc/passwd"})
    site.routes["/feeds/sly.xml"] = Reply(301, b"", {"Location": "gopher://x/\x1b]0;pwned\x07"})
    not_gzip = b"\x1f\x8b\x08\x00not gzip after all" * 10
    site.routes["/feeds/packed.xml"] = Reply(200, not_gzip, {"Content-Encoding": "gzip"})
    feeds = [
        ("packed", site.url("/feeds/packed.xml")),
        ("silent", silent.url),
        ("cut", cut.url),
        ("moved", site.url("/feeds/moved.xml")),
        ("sly", site.url("/feeds/sly.xml")),
    ]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, None))
    try:
        done = newsmon(config, "crawl")
    finally:
        silent.sock.close()
        cut.sock.close()
    assert (
        "failed: silent: ConnectionDone: the server closed the connection before it answered" in done.stdout
    )
    assert (
        "failed: cut: ResponseDataLossError: the server closed the connection before the whole body"
        in done.stdout
    )
    assert "failed: moved: HTTP 301 (a redirect to file:///etc/passwd, not followed)" in done.stdout
    assert "failed: packed: the body does not decompress as its Content-Encoding header says (zlib:" in (
        done.stdout
    )
    assert "Failure" not in done.stdout, done.stdout
    # what a server wrote reaches the terminal as text, not as escape sequences
    assert "failed: sly: HTTP 301 (a redirect to gopher://x/\\x1b]0;pwned\\x07, not followed)" in done.stdout
    assert "\x1b" not in done.stdout and "\x1b" not in newsmon(config, "feeds").stdout


def test_a_database_gone_while_articles_download_stops_the_crawl_in_one_line(tmp_path, site):
    """Every store call waited 5 s for the dead server and the crawl went on for every feed and
    article, then printed a summary of success and exited 0."""
    data = tmp_path / "var"
    killed = []

    def kill_database_then_serve(path):
        def reply(server, handler) -> Reply:
            if not killed:  # the first article page: the feeds are stored, their articles are not
                killed.append(json.loads((data / "db" / "server.json").read_text())["pid"])
                os.kill(killed[0], signal.SIGKILL)
            return server._file(path)

        return reply

    for page in ("geneva-ceasefire-talks", "kursk-front-line", "grain-exports-budget"):
        site.routes[f"/news/{page}.html"] = kill_database_then_serve(f"/news/{page}.html")
    feeds = [
        (n, site.url(f"/feeds/{f}"))
        for n, f in (("world", "world.xml"), ("sport", "sport.atom"), ("ua", "ua.rdf"))
    ]
    config = write_config(tmp_path / "monitor.yaml", config_text("embedded", data, feeds, None))
    first = newsmon(config, "crawl")
    assert first.returncode == 1, first.stdout + first.stderr
    assert "stopped: the database could not be reached" in first.stdout, first.stdout
    assert first.stderr.count("stopping the crawl") == 1, first.stderr  # said once
    assert "could not record" not in first.stderr and "Traceback" not in first.stderr
    second = newsmon(config, "crawl")  # restarts the embedded server; nothing was lost
    assert second.returncode == 0 and "new articles: 0" not in second.stdout, second.stdout
    whole = write_config(tmp_path / "whole.yaml", config_text("embedded", tmp_path / "whole", feeds, None))
    assert newsmon(whole, "crawl").returncode == 0  # the same feeds, crawled without a loss
    assert len(newsmon(config, "export").stdout.splitlines()) == len(
        newsmon(whole, "export").stdout.splitlines()
    )


def test_database_gone_mid_crawl_loses_nothing(tmp_path, site):
    data = tmp_path / "var"

    def kill_database(server, handler) -> Reply:
        if len(server.hits("/feeds/world.xml")) == 1:  # only during the first crawl
            pid = json.loads((data / "db" / "server.json").read_text())["pid"]
            os.kill(pid, signal.SIGKILL)
        return server._file("/feeds/world.xml")

    site.routes["/feeds/world.xml"] = kill_database
    feeds = [("world", site.url("/feeds/world.xml"))]
    config = write_config(tmp_path / "monitor.yaml", config_text("embedded", data, feeds, None))
    first = newsmon(config, "crawl")
    assert first.returncode == 1 and "failed: world: database error" in first.stdout
    second = newsmon(config, "crawl")  # restarts the embedded server after the kill -9
    assert second.returncode == 0, second.stderr
    assert not site.hits("/feeds/world.xml")[-1].get("If-None-Match")  # validators had not advanced
    assert "new articles: 3" in second.stdout


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process now running."""
    procs: dict[int, tuple[int, str]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (FileNotFoundError, ProcessLookupError):
            continue  # gone meanwhile
        procs[int(entry)] = (int(stat.rsplit(")", 1)[1].split()[1]), cmdline)
    return procs


def _fork_servers(crawls: set[int], procs: dict[int, tuple[int, str]]) -> set[int]:
    """The fork servers that these crawl processes started."""
    return {pid for pid, (parent, cmd) in procs.items() if parent in crawls and "forkserver" in cmd}


def _crawl_workers() -> list[int]:
    """Worker processes of the `newsmon crawl` this test started: children of the fork server
    that the crawl process started."""
    procs = _processes()
    crawls = {pid for pid, (parent, cmd) in procs.items() if parent == os.getpid() and " crawl" in cmd}
    servers = _fork_servers(crawls, procs)
    return [pid for pid, (parent, _) in procs.items() if parent in servers]


def test_a_worker_killed_mid_crawl_costs_nothing(tmp_path, site, mongo_uri):
    killed: list[int] = []

    def kill_a_worker(server, handler) -> Reply:
        if not killed:
            workers = _crawl_workers()
            assert workers, "the crawl's worker processes are running by the time it fetches articles"
            os.kill(workers[0], signal.SIGKILL)  # as the OOM killer would
            killed.append(workers[0])
        return server._file("/news/geneva-ceasefire-talks.html")

    site.routes["/news/geneva-ceasefire-talks.html"] = kill_a_worker
    feeds = [("world", site.url("/feeds/world.xml"))]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, None))
    done = newsmon(config, "crawl", env={"MONITOR_WORKERS": "2"})
    assert killed
    assert done.returncode == 0, done.stderr
    assert "a worker process died" in done.stderr
    assert "1 fetched (0 not modified), 0 failed; new articles: 3" in done.stdout
    client, database = db(mongo_uri)
    with client:
        assert database.entries.count_documents({"done": True}) == 3


def _importing_lxml(pid: int) -> bool:
    try:
        return "lxml" in Path(f"/proc/{pid}/maps").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_ctrl_c_while_the_workers_fork_server_starts_prints_no_traceback(tmp_path, site, mongo_uri):
    """Ctrl-C in a first crawl's first second reached the fork server while it imported its
    preload, before it ignores SIGINT: a KeyboardInterrupt traceback from inside feedparser."""
    feeds = [("world", site.url("/feeds/world.xml"))]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, None))
    proc = start_crawl(config)
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if any(_importing_lxml(pid) for pid in _fork_servers({proc.pid}, _processes())):
                break  # a first crawl starts it at once; lxml comes early in its preload imports
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err


def test_a_second_ctrl_c_stops_at_once_and_still_says_interrupted(tmp_path, site, mongo_uri):
    """Scrapy's "forcing unclean shutdown" stopped the reactor under the engine: the crawl
    exited 0 with a normal summary, and the worker pool's semaphores were reported leaked."""
    crawl: list[subprocess.Popen] = []

    def ctrl_c_twice(server, handler) -> Reply:
        if crawl and crawl[0].poll() is None:
            os.killpg(crawl[0].pid, signal.SIGINT)
            time.sleep(0.5)
            os.killpg(crawl[0].pid, signal.SIGINT)  # "Send again to force"
            crawl.clear()
        time.sleep(3)  # in flight when the second comes
        return server._file("/news/geneva-ceasefire-talks.html")

    site.routes["/news/geneva-ceasefire-talks.html"] = ctrl_c_twice
    feeds = [("world", site.url("/feeds/world.xml"))]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, None))
    proc = start_crawl(config)
    crawl.append(proc)
    out, err = proc.communicate(timeout=120)
    assert not crawl, "the article was requested, and Ctrl-C sent twice"
    assert "forcing unclean shutdown" in err
    assert proc.returncode == 130, out + err
    assert "interrupted: what was not stored is fetched again by the next crawl" in out
    assert "leaked" not in err and "Traceback" not in err, err
    again = newsmon(config, "crawl")  # what the forced stop dropped comes with the next crawl
    assert again.returncode == 0, again.stderr
    client, database = db(mongo_uri)
    with client:
        assert database.articles.count_documents({}) == 3


def test_sigterm_to_the_whole_group_as_timeout_sends_it_is_no_worker_death(tmp_path, site, mongo_uri):
    """GNU `timeout` signals the command's whole process group: the workers died of it, and the
    crawl warned "a worker process died" about its own stop."""
    crawl: list[subprocess.Popen] = []

    def terminate(server, handler) -> Reply:
        if crawl and crawl[0].poll() is None and _crawl_workers():
            os.killpg(crawl[0].pid, signal.SIGTERM)
            crawl.clear()
        return server._file("/news/geneva-ceasefire-talks.html")

    site.routes["/news/geneva-ceasefire-talks.html"] = terminate
    feeds = [("world", site.url("/feeds/world.xml"))]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, None))
    proc = start_crawl(config)
    crawl.append(proc)
    out, err = proc.communicate(timeout=120)
    assert not crawl, "the article was requested with the workers running, and SIGTERM sent"
    assert proc.returncode == 130, out + err
    assert "worker process died" not in err and "Traceback" not in err, err


def test_ctrl_c_stops_a_crawl_gracefully_and_its_workers_finish_what_they_have(tmp_path, site, mongo_uri):
    crawl: list[subprocess.Popen] = []

    def ctrl_c(server, handler) -> Reply:
        if crawl and crawl[0].poll() is None:
            os.killpg(crawl[0].pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
            crawl.clear()
        return server._file("/news/geneva-ceasefire-talks.html")

    site.routes["/news/geneva-ceasefire-talks.html"] = ctrl_c
    feeds = [("world", site.url("/feeds/world.xml"))]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, None))
    proc = start_crawl(config)
    crawl.append(proc)
    out, err = proc.communicate(timeout=120)
    assert not crawl, "the article was requested, and Ctrl-C sent"
    assert proc.returncode == 130, err  # interrupted, and it says so
    assert "interrupted" in out and "WARNING: Received SIGINT, shutting down gracefully" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err  # the workers leave it to the crawl
    assert "1 fetched (0 not modified), 0 failed" in out
    client, database = db(mongo_uri)
    with client:
        assert database.entries.count_documents({"attempts": {"$gt": 0}}) == 0  # no entry was blamed
    assert newsmon(config, "crawl").returncode == 0
    client, database = db(mongo_uri)
    with client:
        assert database.articles.count_documents({}) == 3  # the next crawl has the rest


def test_an_item_with_an_unusable_link_costs_only_itself(tmp_path, site, mongo_uri):
    items = "".join(
        f'<item><title>{title}</title><link>{link}</link><guid isPermaLink="false">{guid}</guid>'
        "<description>Ceasefire talks resumed, officials said.</description></item>"
        for title, link, guid in [
            ("Broken port", site.url("/news/x.html").replace("/news", ":abc/news"), "g0"),
            ("Talks", site.url("/news/geneva-ceasefire-talks.html"), "g1"),
            ("Front", site.url("/news/kursk-front-line.html"), "g2"),
        ]
    )
    rss = f'<?xml version="1.0"?><rss version="2.0"><channel><title>P</title>{items}</channel></rss>'
    site.routes["/feeds/mixed.xml"] = Reply(200, rss.encode(), {"Content-Type": "application/rss+xml"})
    feeds = [("mixed", site.url("/feeds/mixed.xml"))]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, None))
    done = newsmon(config, "crawl")
    assert done.returncode == 0, done.stderr
    assert "1 fetched (0 not modified), 0 failed; new articles: 2" in done.stdout
