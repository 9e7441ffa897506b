"""One crawl per store at a time: a crawl claims the store before its first request, renews the
claim while it runs and gives it back however it ends; a second crawl makes no request at all."""

from __future__ import annotations

import os
import re
import signal
import socket
import threading
import time
from collections import Counter
from datetime import timedelta

import pymongo
import pytest
from conftest import newsmon, start_crawl, write_config
from test_end_to_end import config_text

from monitor.sample_site.server import Reply, SiteServer
from monitor.store import CRAWL_CLAIM, Holder, Store

pytestmark = pytest.mark.slow

HELD = "/news/geneva-ceasefire-talks.html"
ARTICLES = {HELD, "/news/kursk-front-line.html", "/news/grain-exports-budget.html"}  # world.xml's
EXIT_TEMPFAIL = 75


class HeldPage:
    """Answers the first request of HELD only once `release` is called: the crawl that requested
    it is still running. Later requests (a second crawl's) are answered at once."""

    def __init__(self, site: SiteServer):
        self.requested = threading.Event()
        self.go_on = threading.Event()
        site.routes[HELD] = self._reply

    def _reply(self, server: SiteServer, handler) -> Reply:
        if not self.requested.is_set():
            self.requested.set()
            self.go_on.wait(120)
        return server._file(HELD)

    def release(self) -> None:
        self.go_on.set()


def world_config(tmp_path, site, mongo_uri):
    text = config_text(mongo_uri, tmp_path / "var", [("world", site.url("/feeds/world.xml"))], None)
    # the held page must not time out (and be asked again) while the test looks at the crawl
    return write_config(tmp_path / "monitor.yaml", text.replace("timeout: 5s", "timeout: 120s"))


def claim_holder(mongo_uri: str):
    client = pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=3000, tz_aware=True)
    with client:
        return Store(client, client.get_default_database().name).claim_holder(CRAWL_CLAIM)


def not_started_line(pid: int) -> re.Pattern:
    host = re.escape(socket.gethostname())
    return re.compile(
        rf"crawl: not started: another crawl is running \(pid {pid} on {host}, since \d\d:\d\d:\d\d UTC\)\n"
    )


def test_a_second_crawl_while_one_runs_makes_no_request_and_exits_75(tmp_path, site, mongo_uri):
    held = HeldPage(site)
    config = world_config(tmp_path, site, mongo_uri)
    first = start_crawl(config, workers=1)
    try:
        assert held.requested.wait(120), "the first crawl did not reach its articles"
        second = newsmon(config, "crawl")
        assert second.returncode == EXIT_TEMPFAIL, second.stdout + second.stderr
        assert not_started_line(first.pid).fullmatch(second.stdout), second.stdout
        assert second.stderr == ""  # the one line, nothing else
        assert len(site.hits("/feeds/world.xml")) == 1  # no request: the count of all is below
    finally:
        held.release()
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0 and "new articles: 3" in out, out + err
    requested = Counter(path for _, path, _ in site.requests)
    assert set(requested) == {"/robots.txt", "/feeds/world.xml", *ARTICLES}
    assert set(requested.values()) == {1}, requested  # every page once: one crawl's politeness
    # given back as the crawl ended: the next one starts at once, and takes nothing over
    third = newsmon(config, "crawl")
    assert third.returncode == 0 and "new articles: 0" in third.stdout, third.stdout + third.stderr
    assert "taking over" not in third.stderr


def test_the_claim_of_a_crawl_killed_with_sigkill_is_taken_over_at_once(tmp_path, site, mongo_uri):
    held = HeldPage(site)
    config = world_config(tmp_path, site, mongo_uri)
    first = start_crawl(config, workers=1)
    try:
        assert held.requested.wait(120), "the first crawl did not reach its articles"
        os.killpg(first.pid, signal.SIGKILL)  # the crawl, its fork server and workers: no goodbye
        first.communicate(timeout=60)
    finally:
        held.release()
    left = claim_holder(mongo_uri)
    assert left is not None and left.pid == first.pid  # left behind, and not run out for 2 minutes
    second = newsmon(config, "crawl")
    assert second.returncode == 0, second.stdout + second.stderr
    warning = (
        f"[monitor.claims] WARNING: the newsmon crawl that claimed this store (pid {first.pid} on "
        f"{socket.gethostname()}) is gone; taking over its claim"
    )
    assert warning in second.stderr, second.stderr
    assert "1 fetched (1 not modified), 0 failed" in second.stdout, second.stdout  # it crawled
    client = pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=3000)
    with client:
        assert client.get_default_database().articles.count_documents({}) == 3  # what the kill cost
    assert claim_holder(mongo_uri) is None  # and gave it back


def test_a_crawl_longer_than_a_renewal_period_keeps_its_claim(tmp_path, site, mongo_uri):
    """The claim holds 2 minutes from each renewal, every 30 s: this crawl waits on its page until
    the claim was renewed once (about 30 s)."""
    held = HeldPage(site)
    config = world_config(tmp_path, site, mongo_uri)
    crawl = start_crawl(config, workers=1)
    try:
        assert held.requested.wait(120), "the crawl did not reach its articles"
        taken = claim_holder(mongo_uri)
        assert (
            taken is not None and taken.pid == crawl.pid and taken.until - taken.since == timedelta(minutes=2)
        )
        deadline = time.monotonic() + 90
        renewed = taken
        while renewed.until == taken.until and time.monotonic() < deadline:
            time.sleep(1)
            renewed = claim_holder(mongo_uri)
        assert renewed.until > taken.until, "not renewed within 90 s"
        assert (renewed.owner, renewed.since) == (taken.owner, taken.since)  # the same claim, renewed
        assert timedelta(seconds=25) < renewed.until - taken.until < timedelta(seconds=60)
    finally:
        held.release()
    out, err = crawl.communicate(timeout=120)
    assert crawl.returncode == 0 and "new articles: 3" in out, out + err
    assert claim_holder(mongo_uri) is None


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_gives_the_claim_back(tmp_path, site, mongo_uri, presses):
    """Once: Scrapy finishes the requests in flight and closes the spider. Twice: it stops the
    reactor at once, without closing the spider."""
    held = HeldPage(site)
    config = world_config(tmp_path, site, mongo_uri)
    first = start_crawl(config, workers=1)
    try:
        assert held.requested.wait(120), "the first crawl did not reach its articles"
        assert newsmon(config, "crawl").returncode == EXIT_TEMPFAIL  # held while it runs
        os.killpg(first.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
        if presses == 2:
            for line in first.stderr:  # heard, and Scrapy's handler for a second one is in place
                if "shutting down gracefully" in line:
                    break
            os.killpg(first.pid, signal.SIGINT)
    finally:
        held.release()  # Scrapy finishes the request in flight
    out, err = first.communicate(timeout=120)
    assert first.returncode == 130 and "interrupted" in out, out + err
    assert claim_holder(mongo_uri) is None
    second = newsmon(config, "crawl")  # at once, and nothing to take over: it was given back
    assert second.returncode == 0, second.stdout + second.stderr
    assert "taking over" not in second.stderr


def test_a_claim_held_from_another_host_is_waited_out(tmp_path, site, mongo_uri):
    config = world_config(tmp_path, site, mongo_uri)
    client = pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=3000, tz_aware=True)
    with client:
        store = Store(client, client.get_default_database().name)
        elsewhere = Holder("elsewhere.example", 4242, "")
        assert store.claim(CRAWL_CLAIM, "theirs", timedelta(seconds=4), elsewhere)
        until = store.claim_holder(CRAWL_CLAIM).until
    busy = newsmon(config, "crawl")
    assert busy.returncode == EXIT_TEMPFAIL and "(pid 4242 on elsewhere.example, since " in busy.stdout
    assert site.requests == []
    while claim_holder(mongo_uri) is not None:  # never judged gone: it runs out
        time.sleep(max(0.1, until.timestamp() - time.time()))
    done = newsmon(config, "crawl")
    assert done.returncode == 0 and "new articles: 3" in done.stdout, done.stdout + done.stderr
