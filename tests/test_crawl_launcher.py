"""`newsmon run`'s crawls fork from a server that imported the crawl stack once: they store and
report as `newsmon crawl` does, and a crawl or fork server that dies costs only that crawl."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pymongo
import pytest
from conftest import REPO, write_config
from test_end_to_end import config_text

from monitor.crawl.launcher import PRELOAD, CrawlLauncher, CrawlRun
from monitor.sample_site.server import Reply

pytestmark = pytest.mark.slow


def test_the_fork_servers_imports_install_no_reactor_and_start_no_thread():
    # A reactor installed before the fork would hand one epoll instance to every crawl; a thread
    # started there would be missing (holding whatever lock it held) in each of them.
    probe = (
        "import sys, threading\n"
        f"for name in {PRELOAD!r}: __import__(name)\n"
        "print('twisted.internet.reactor' in sys.modules, threading.active_count())\n"
        "print('scrapy.crawler' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "1", "True"]  # and the stack worth preloading is there


def _parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            parents[int(entry)] = _parent_of(int(entry))
        except (FileNotFoundError, ProcessLookupError):
            continue  # gone meanwhile
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        children = {child for child, p in parents.items() if p == parent}
        found |= children
        todo.extend(children)
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_a_launched_crawl_stores_and_reports_as_newsmon_crawl_does(tmp_path, site, mongo_uri):
    feeds = [("world", site.url("/feeds/world.xml"))]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, None))
    launcher = CrawlLauncher()

    first = launcher.crawl(str(config))
    assert first == CrawlRun(
        0, "feeds: 1 fetched (0 not modified), 0 failed; new articles: 3; new matches: 2\n"
    )
    second = launcher.crawl(str(config))
    assert second == CrawlRun(
        0, "feeds: 1 fetched (1 not modified), 0 failed; new articles: 0; new matches: 0\n"
    )
    assert len(site.hits("/news/geneva-ceasefire-talks.html")) == 1

    config.write_text(config.read_text().replace("name: world", "name: world-news"))  # read anew each time
    assert "new articles: 0" in launcher.crawl(str(config)).output
    with pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=3000) as client:
        assert client.get_default_database().feeds.find_one({"name": "world-news"}) is not None


def test_a_crawl_killed_with_its_fork_server_costs_only_that_crawl(tmp_path, site, mongo_uri):
    launcher = CrawlLauncher()
    killed: list[int] = []
    left_behind: set[int] = set()
    workers: set[int] = set()

    def kill_the_crawl(server, handler) -> Reply:
        if not killed:
            (crawl,) = launcher.running()
            fork_server = _parent_of(crawl)
            left_behind.update(_descendants(crawl))
            # forked by the crawl itself, before it started any thread: no fork server of their
            # own to start and import the parsing stack (~0.7 s of CPU per crawl with new items)
            workers.update(p for p in left_behind if _parent_of(p) == crawl)
            os.kill(crawl, signal.SIGKILL)  # as the OOM killer would, and then the server too
            os.kill(fork_server, signal.SIGKILL)
            killed.append(crawl)
        return server._file("/news/geneva-ceasefire-talks.html")

    site.routes["/news/geneva-ceasefire-talks.html"] = kill_the_crawl
    feeds = [("world", site.url("/feeds/world.xml"))]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, None))

    dead = launcher.crawl(str(config))
    assert killed
    assert dead.exit_code != 0 and dead.output == ""
    assert workers, "the feed was parsed in a worker before the article was asked for"
    assert left_behind == workers  # the crawl's only descendants are its workers
    deadline = time.monotonic() + 20
    while any(map(_alive, left_behind)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_alive, left_behind)), "the dead crawl's worker processes are still running"
    after = launcher.crawl(str(config))  # a new fork server, and the entries left pending are done
    assert after.exit_code == 0, after
    assert after.output.startswith("feeds: 1 fetched")
    with pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=3000) as client:
        database = client.get_default_database()
        assert database.entries.count_documents({"done": True}) == 3
        assert database.articles.count_documents({}) == 3


def test_a_stopped_launcher_starts_no_crawl(tmp_path, site, mongo_uri):
    feeds = [("world", site.url("/feeds/world.xml"))]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, None))
    launcher = CrawlLauncher()
    launcher.stop()
    assert launcher.crawl(str(config)) is None
    assert site.hits("/feeds/world.xml") == []
