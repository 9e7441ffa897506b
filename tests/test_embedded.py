"""The embedded store: shared by processes using one data_dir, stopped by the last, restartable
after a kill -9 (stale pid file), and nothing acknowledged is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pymongo

from monitor.embedded import EmbeddedServer, _alive

JOIN = """
import sys, time
from monitor.embedded import EmbeddedServer
s = EmbeddedServer(sys.argv[1]); print(s.acquire(), flush=True); sys.stdin.readline(); s.release()
"""


def test_second_process_joins_and_last_one_stops(tmp_path):
    first = EmbeddedServer(tmp_path)
    uri = first.acquire()
    other = subprocess.Popen(
        [sys.executable, "-c", JOIN, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert other.stdout.readline().strip() == uri  # the same server
    pid = json.loads((tmp_path / "db" / "server.json").read_text())["pid"]
    first.release()
    assert _alive(pid)  # still used by the other process
    other.communicate("\n", timeout=30)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def test_restart_after_kill_keeps_acknowledged_writes(tmp_path):
    server = EmbeddedServer(tmp_path)
    uri = server.acquire()
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000)
    client.newsmon.articles.insert_many([{"url": f"https://n.example/{i}"} for i in range(50)])
    client.close()
    pid = json.loads((tmp_path / "db" / "server.json").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    while _alive(pid):
        time.sleep(0.05)
    assert (tmp_path / "db" / "nx-27017.pid").exists()  # the stale pid file the server would refuse
    server.release()  # this process is done with the dead one
    uri = server.acquire()  # detects the dead server and starts a new one
    restarted = json.loads((tmp_path / "db" / "server.json").read_text())["pid"]
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000)
    try:
        assert client.newsmon.articles.count_documents({}) == 50
    finally:
        client.close()
        server.release()
    assert not _alive(restarted)  # the last user stopped it
