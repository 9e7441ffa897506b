"""`newsmon run`: crawls on its interval, sends a due digest once, stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import REPO, write_config
from test_end_to_end import config_text

pytestmark = pytest.mark.slow


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_run_crawls_sends_due_digest_and_stops_on_sigterm(tmp_path, site, smtp, mongo_uri):
    box, port = smtp
    text = config_text(mongo_uri, tmp_path / "var", [("world", site.url("/feeds/world.xml"))], port)
    due = (datetime.now(UTC) - timedelta(minutes=2)).strftime("%H:%M")  # today's digest time has passed
    text = text.replace("every: 30m", "every: 2s").replace('at: "07:00"', f'at: "{due}"')
    text = text.replace("timezone: Europe/Kyiv", "timezone: UTC")
    config = write_config(tmp_path / "monitor.yaml", text)
    log = open(tmp_path / "run.log", "w")  # noqa: SIM115 - a file, not a pipe: a full pipe would stall it
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "-v", "run"],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "MONITOR_WORKERS": "1"},
    )
    try:
        assert wait_for(lambda: len(box.messages) == 1, 120), "no digest was sent"
        assert wait_for(lambda: len(site.hits("/feeds/world.xml")) >= 2, 60), "no second crawl"
        time.sleep(1)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    err = (tmp_path / "run.log").read_text()
    assert proc.returncode == 0, err
    assert "stopped" in err
    assert "Traceback" not in err and "after close" not in err  # no error from a closed job store
    assert len(box.messages) == 1  # the due digest went out once, not once per crawl


def start_run(config, log_path, *, own_group: bool = False, verbose: bool = True):
    """`newsmon -v run` logging to `log_path`; `own_group`: in a process group of its own, as a
    terminal starts it (so a test can signal the group as Ctrl-C does)."""
    log = open(log_path, "a")  # noqa: SIM115 - closed by stop_run
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), *(["-v"] if verbose else []), "run"],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MONITOR_WORKERS": "0"},
        start_new_session=own_group,
    )
    return proc, log


def stop_run(proc, log) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()


def test_digest_missed_while_down_is_sent_once_on_restart(tmp_path, site, smtp, mongo_uri):
    from conftest import newsmon

    from monitor.sample_site.server import Reply

    box, port = smtp
    items = ["geneva-ceasefire-talks"]

    def live_feed(server, handler) -> Reply:
        body = "".join(
            f"<item><title>{slug}</title><link>/news/{slug}.html</link><guid>{slug}</guid></item>"
            for slug in items
        )
        rss = f'<?xml version="1.0"?><rss version="2.0"><channel><title>live</title>{body}</channel></rss>'
        return Reply(200, rss.encode(), {"Content-Type": "application/rss+xml"})

    site.routes["/feeds/live.xml"] = live_feed
    now = datetime.now(UTC)
    # at least 30 s ahead: the first run must be over before the digest time passes
    slot = (now + timedelta(minutes=1 if now.second < 30 else 2)).replace(second=0, microsecond=0)
    text = config_text(mongo_uri, tmp_path / "var", [("live", site.url("/feeds/live.xml"))], port)
    text = text.replace("every: 30m", "every: 1h").replace('at: "07:00"', f'at: "{slot:%H:%M}"')
    config = write_config(tmp_path / "monitor.yaml", text.replace("timezone: Europe/Kyiv", "timezone: UTC"))

    first_log = tmp_path / "first-run.log"
    proc, log = start_run(config, first_log)
    assert wait_for(lambda: "crawl finished" in first_log.read_text(), 120), first_log.read_text()
    assert stop_run(proc, log) == 0
    assert datetime.now(UTC) < slot, "the first run outlasted the digest time; the test cannot tell anything"
    assert box.messages == []  # today's digest time has not come (and yesterday's was never theirs)

    items.append("pereemyria-ukr")  # news arrives while the scheduler is down ...
    assert "new matches: 1" in newsmon(config, "crawl").stdout
    while datetime.now(UTC) < slot + timedelta(seconds=2):  # ... and the digest time passes
        time.sleep(0.5)

    proc, log = start_run(config, tmp_path / "run.log")
    assert wait_for(lambda: len(box.messages) == 1, 120), (tmp_path / "run.log").read_text()
    time.sleep(3)
    assert stop_run(proc, log) == 0
    assert len(box.messages) == 1  # sent once, though both the missed job and the start-up crawl were due
    html = box.messages[0].get_payload()[1].get_payload(decode=True).decode()
    assert "pereemyria-ukr" in html and "geneva-ceasefire-talks" in html


def test_an_embedded_database_killed_under_the_scheduler_is_restarted_and_crawls_go_on(tmp_path, site):
    text = config_text("embedded", tmp_path / "var", [("world", site.url("/feeds/world.xml"))], None)
    # every 20 s: the scheduler's own check (every 5 s) comes before the next crawl could start one
    config = write_config(tmp_path / "monitor.yaml", text.replace("every: 30m", "every: 20s"))
    state = tmp_path / "var" / "db" / "server.json"
    run_log = tmp_path / "run.log"

    def crawls_finished() -> list[str]:
        return [line for line in run_log.read_text().splitlines() if "crawl finished" in line]

    proc, log = start_run(config, run_log)
    try:
        assert wait_for(lambda: len(crawls_finished()) == 1, 60), run_log.read_text()
        killed = json.loads(state.read_text())
        os.kill(killed["pid"], signal.SIGKILL)  # as the OOM killer would
        # before, the scheduler's job store kept pointing at the dead server: no job was due again.
        # The scheduler's own check restarts it, or the digest job that follows the crawl does.
        assert wait_for(lambda: _server_pid(state) not in (None, killed["pid"]), 30), run_log.read_text()
        restarted = json.loads(state.read_text())
        assert wait_for(lambda: len(crawls_finished()) == 2, 60), run_log.read_text()
    finally:
        assert stop_run(proc, log) == 0
    assert restarted["pid"] != killed["pid"]
    assert restarted["port"] == killed["port"]  # so clients already connected find it again
    assert "(exit 0): feeds: 1 fetched (1 not modified)" in crawls_finished()[1]
    from conftest import newsmon

    exported = newsmon(config, "export").stdout.splitlines()
    assert len(exported) == 3  # what the first crawl stored survived the kill


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


def test_stopping_run_as_its_crawl_starts_is_a_warning_not_a_killed_crawl(tmp_path, site, mongo_uri):
    """`run` stops its crawls with SIGTERM. One that had not yet set its handler died of it, and
    the scheduler logged its own stop as an ERROR: "crawl ended (killed by signal 15)"."""
    text = config_text(mongo_uri, tmp_path / "var", [("world", site.url("/feeds/world.xml"))], None)
    config = write_config(tmp_path / "monitor.yaml", text)
    proc, log = start_run(config, tmp_path / "run.log")
    try:
        deadline = time.monotonic() + 60
        crawl: list[int] = []
        while not crawl and proc.poll() is None and time.monotonic() < deadline:
            # run -> its fork server -> the crawl it forked for the start-up crawl
            crawl = [c for server in _children(proc.pid) for c in _children(server)]
        assert crawl, "the start-up crawl began"
    finally:
        code = stop_run(proc, log)
    assert code == 0
    out = (tmp_path / "run.log").read_text()
    assert " ERROR " not in out, out
    assert "crawl interrupted" in out or "crawl stopped" in out or "crawl finished" in out, out


def test_run_logs_each_crawl_and_digest_without_v_and_no_scheduler_chatter(tmp_path, site, smtp, mongo_uri):
    """A service's log: without -v, `run` printed nothing at all while it crawled and mailed."""
    box, port = smtp
    text = config_text(mongo_uri, tmp_path / "var", [("world", site.url("/feeds/world.xml"))], port)
    config = write_config(tmp_path / "monitor.yaml", text.replace('at: "07:00"', 'at: "00:00"'))
    proc, log = start_run(config, tmp_path / "run.log", verbose=False)
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if "digest alice@example.org: sent" in (tmp_path / "run.log").read_text():
                break
            time.sleep(0.2)
    finally:
        assert stop_run(proc, log) == 0
    out = (tmp_path / "run.log").read_text()
    assert "INFO newsmon.scheduler: crawl finished in " in out and "new articles: 3" in out, out
    assert "INFO newsmon.scheduler: digest alice@example.org: sent" in out, out
    assert "apscheduler" not in out, out
    assert len(box.messages) == 1


def test_a_second_run_on_the_same_store_does_not_start_and_names_the_first(tmp_path, site, mongo_uri):
    """Two schedulers on one store (a systemd unit and a terminal) crawled every site twice as
    often and shared APScheduler's job store, which it does not support."""
    text = config_text(mongo_uri, tmp_path / "var", [("world", site.url("/feeds/world.xml"))], None)
    config = write_config(tmp_path / "monitor.yaml", text)
    first, first_log = start_run(config, tmp_path / "first.log")
    try:
        deadline = time.monotonic() + 60
        while "crawl finished" not in (tmp_path / "first.log").read_text() and time.monotonic() < deadline:
            assert first.poll() is None, (tmp_path / "first.log").read_text()
            time.sleep(0.2)
        second = subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(config), "run"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 75, second.stderr
        assert f"run: not started: another newsmon run uses this store (pid {first.pid} on " in second.stderr
        assert first.poll() is None  # the first goes on
    finally:
        assert stop_run(first, first_log) == 0
    # given back at its stop: the next `run` starts at once
    again, again_log = start_run(config, tmp_path / "again.log")
    try:
        deadline = time.monotonic() + 60
        while "crawl finished" not in (tmp_path / "again.log").read_text() and time.monotonic() < deadline:
            assert again.poll() is None, (tmp_path / "again.log").read_text()
            time.sleep(0.2)
        assert "crawl finished" in (tmp_path / "again.log").read_text()
    finally:
        assert stop_run(again, again_log) == 0


def test_ctrl_c_stops_a_running_crawl_once_and_cleanly(tmp_path, site, mongo_uri):
    from monitor.sample_site.server import Reply

    requested = threading.Event()

    def slow_feed(server, handler) -> Reply:
        requested.set()
        time.sleep(3)  # in flight when Ctrl-C comes
        return server._file("/feeds/world.xml")

    site.routes["/feeds/slow.xml"] = slow_feed
    text = config_text(mongo_uri, tmp_path / "var", [("slow", site.url("/feeds/slow.xml"))], None)
    config = write_config(tmp_path / "monitor.yaml", text)
    proc, log = start_run(config, tmp_path / "run.log", own_group=True)
    try:
        assert requested.wait(60), "the scheduler did not start its crawl"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    out = (tmp_path / "run.log").read_text()
    # one signal, the scheduler's, so a graceful stop: the feed in flight is fetched and counted.
    # Given Ctrl-C as well, Scrapy took the second signal as "stop now" and dropped it.
    assert "crawl interrupted" in out and "feeds: 1 fetched (0 not modified), 0 failed" in out
    assert "stopped" in out


def test_a_scheduled_crawl_that_finds_another_crawl_running_is_skipped_with_a_warning(
    tmp_path, site, mongo_uri
):
    from conftest import start_crawl
    from test_crawl_claim import HELD, HeldPage, world_config

    held = HeldPage(site)
    config = world_config(tmp_path, site, mongo_uri)
    write_config(config, config.read_text().replace("every: 30m", "every: 2s"))
    by_hand = start_crawl(config, workers=1)  # `newsmon crawl`, still running when `run` starts
    run_log = tmp_path / "run.log"
    proc = log = None
    try:
        assert held.requested.wait(120), "the crawl by hand did not reach its articles"
        proc, log = start_run(config, run_log)
        assert wait_for(lambda: "crawl skipped" in run_log.read_text(), 60), run_log.read_text()
        held.release()
        assert by_hand.wait(120) == 0, by_hand.communicate()
        # the schedule goes on: the next crawl runs, and finds everything stored
        assert wait_for(lambda: "crawl finished" in run_log.read_text(), 60), run_log.read_text()
    finally:
        held.release()
        if proc is not None:
            assert stop_run(proc, log) == 0
    text = run_log.read_text()
    skipped = [line for line in text.splitlines() if "crawl skipped" in line]
    host = socket.gethostname()
    assert all(
        re.search(
            rf" WARNING newsmon.scheduler: crawl skipped: another crawl is running \(pid {by_hand.pid} on "
            rf"{re.escape(host)}, since \d\d:\d\d:\d\d UTC\); the next one runs at its time$",
            line,
        )
        for line in skipped
    ), skipped
    assert "ERROR" not in text and "Traceback" not in text, text
    assert "(exit 0): feeds: 1 fetched (1 not modified), 0 failed; new articles: 0" in text, text
    assert len(site.hits(HELD)) == 1


def test_a_config_broken_while_it_runs_costs_one_log_line_per_job_and_no_traceback(tmp_path, caplog):
    from monitor import scheduler

    config = write_config(tmp_path / "monitor.yaml", "crawl:\n  every: sometimes\n")  # an edit half done
    with caplog.at_level(logging.INFO, logger="newsmon.scheduler"):
        scheduler.digest_job(str(config), "alice@example.org")  # raised out of the job before
        scheduler.crawl_job(str(config))
    messages = [r.getMessage() for r in caplog.records]
    assert (
        f"digest alice@example.org not sent: the config has errors: {config}:2: crawl.every:" in messages[0]
    )
    assert messages[1].startswith(f"crawl not run: {config} has errors")
    assert len(messages) == 2 and all(r.levelname == "ERROR" and not r.exc_info for r in caplog.records)


def test_a_digest_job_with_the_database_down_logs_one_line(tmp_path, caplog):
    from test_end_to_end import dead_port

    from monitor import scheduler

    config = write_config(
        tmp_path / "monitor.yaml",
        f'storage:\n  mongodb_uri: "mongodb://127.0.0.1:{dead_port()}/newsmon"\n'
        "feeds: []\ntopics: {}\nrecipients: []\n",
    )
    with caplog.at_level(logging.INFO, logger="newsmon.scheduler"):
        scheduler.digest_job(str(config), None)  # a 40-line traceback from APScheduler before
    (record,) = caplog.records
    assert record.levelname == "ERROR"
    assert record.getMessage().startswith("digest (all due) not sent: database error: the database cannot")
    assert record.getMessage().endswith("Connection refused; it stays due")


def test_a_hanging_mail_server_does_not_hold_up_the_crawls(tmp_path, site, smtp, mongo_uri):
    """The digest after each crawl waited for the mail server inside the crawl job, which runs
    one at a time: a server taking its time over DATA stopped the crawls with it."""
    box, port = smtp
    box.delay = 25  # under the 30 s SMTP timeout: the digest sits waiting for the reply
    text = config_text(mongo_uri, tmp_path / "var", [("world", site.url("/feeds/world.xml"))], port)
    due = (datetime.now(UTC) - timedelta(minutes=2)).strftime("%H:%M")
    text = text.replace("every: 30m", "every: 2s").replace('at: "07:00"', f'at: "{due}"')
    text = text.replace("timezone: Europe/Kyiv", "timezone: UTC")
    config = write_config(tmp_path / "monitor.yaml", text)
    proc, log = start_run(config, tmp_path / "run.log")
    try:
        assert wait_for(lambda: len(site.hits("/feeds/world.xml")) >= 1, 60), "no first crawl"
        first = time.monotonic()
        # while the first digest still waits for the server, crawls go on every 2 s
        assert wait_for(lambda: len(site.hits("/feeds/world.xml")) >= 4, 20), "the crawls stopped"
        assert time.monotonic() - first < box.delay and not box.messages
    finally:
        stop_run(proc, log)


def test_an_edited_crawl_interval_applies_without_a_restart(tmp_path, site, mongo_uri):
    text = config_text(mongo_uri, tmp_path / "var", [("world", site.url("/feeds/world.xml"))], None)
    config = write_config(tmp_path / "monitor.yaml", text.replace("every: 30m", "every: 1h"))
    proc, log = start_run(config, tmp_path / "run.log")
    try:
        assert wait_for(lambda: len(site.hits("/feeds/world.xml")) == 1, 60), "no start-up crawl"
        write_config(config, text.replace("every: 30m", "every: 2s"))
        assert wait_for(lambda: len(site.hits("/feeds/world.xml")) >= 3, 40), "still crawling hourly"
    finally:
        stop_run(proc, log)
    assert "schedule of crawl changed" in (tmp_path / "run.log").read_text()


def test_a_database_restarted_on_another_port_keeps_the_scheduler_going(tmp_path, site):
    """Something took the dead server's port before the restart: the database comes back on
    another port, and the scheduler's job store must follow it (it kept asking the old port,
    and no crawl or digest ran again)."""
    import socket

    text = config_text("embedded", tmp_path / "var", [("world", site.url("/feeds/world.xml"))], None)
    config = write_config(tmp_path / "monitor.yaml", text.replace("every: 30m", "every: 20s"))
    state = tmp_path / "var" / "db" / "server.json"
    run_log = tmp_path / "run.log"

    def crawls_finished() -> int:
        return run_log.read_text().count("crawl finished")

    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # its connections linger
    proc, log = start_run(config, run_log)
    try:
        assert wait_for(lambda: crawls_finished() == 1, 60), run_log.read_text()
        # the digest after the crawl opens the database too: let it finish, or it may restart the
        # server on its old port before the squatter takes it
        done = 'Job "digest after crawl'
        assert wait_for(lambda: done in run_log.read_text().split("crawl finished", 1)[1], 30)
        killed = json.loads(state.read_text())
        os.kill(killed["pid"], signal.SIGKILL)
        assert wait_for(lambda: _bind(squatter, killed["port"]), 10), "the port was not freed"
        squatter.listen()
        assert wait_for(lambda: "the embedded database had stopped" in run_log.read_text(), 30)
        assert json.loads(state.read_text())["port"] != killed["port"]
        assert wait_for(lambda: crawls_finished() == 2, 60), run_log.read_text()
    finally:
        squatter.close()
        assert stop_run(proc, log) == 0
    assert "Error getting due jobs" not in run_log.read_text()


def _server_pid(state) -> int | None:
    """The pid server.json names once the server answers (not while it is starting)."""
    try:
        recorded = json.loads(state.read_text())
    except (OSError, ValueError):
        return None
    return None if recorded.get("starting") else recorded["pid"]


def _bind(sock, port: int) -> bool:
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        return False
    return True
