"""The embedded store: shared by processes using one data_dir, stopped by the last, restartable
after a kill -9 (stale pid file), and nothing acknowledged is lost."""

from __future__ import annotations

import ctypes
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pymongo
import pytest

import monitor.embedded
from monitor.embedded import EmbeddedServer, EmbeddedServerError, _alive, _listening

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
    started = time.monotonic()
    other.communicate("\n", timeout=30)
    # it stopped the server, which stays a zombie until its parent (this process) reaps it: the
    # other process must see it as stopped, not wait for its 10 s SIGKILL deadline
    assert time.monotonic() - started < 5
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


def test_a_killed_server_is_revived_on_its_port_for_the_client_already_connected(tmp_path):
    server = EmbeddedServer(tmp_path)
    assert server.revive() is None  # holds no lease: not this process's business
    uri = server.acquire()
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        client.newsmon.feeds.insert_one({"name": "world"})
        assert server.revive() is None  # running: nothing to do
        killed = json.loads((tmp_path / "db" / "server.json").read_text())
        os.kill(killed["pid"], signal.SIGKILL)
        while _alive(killed["pid"]):
            time.sleep(0.05)
        assert server.revive() == killed["port"]
        assert client.newsmon.feeds.count_documents({"name": "world"}) == 1  # the same client, again
    finally:
        client.close()
        server.release()


def test_a_restart_takes_another_port_when_the_old_one_is_taken(tmp_path):
    server = EmbeddedServer(tmp_path)
    server.acquire()
    killed = json.loads((tmp_path / "db" / "server.json").read_text())
    os.kill(killed["pid"], signal.SIGKILL)
    while _alive(killed["pid"]):
        time.sleep(0.05)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", killed["port"]))
        squatter.listen()
        try:
            port = server.revive()
            assert port is not None and port != killed["port"]
            assert _listening(port)
        finally:
            server.release()


_TGKILL = {"x86_64": 234, "aarch64": 131}  # syscall numbers: Python has no tgkill of its own


def _signal_thread(pid: int, tid: int, sig: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(_TGKILL[platform.machine()], pid, tid, sig) != 0:
        raise OSError(ctypes.get_errno(), "tgkill failed")


@pytest.mark.skipif(
    platform.machine() not in _TGKILL or not Path("/proc/self/task").is_dir(), reason="Linux only"
)
def test_a_connection_wakes_a_server_whose_sigterm_went_to_a_database_thread(tmp_path):
    """The kernel may hand a process's SIGTERM to any of its threads. The server's handler runs on
    its main thread, asleep in its event loop: signalled on a database thread, it stays up until
    something wakes that loop. `EmbeddedServer._stop` connects while it waits for exactly this
    (two crawls this way waited for the SIGKILL 10 s later); this checks that a connection does
    wake it."""
    server = EmbeddedServer(tmp_path)
    uri = server.acquire()
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000)
    client.newsmon.articles.insert_many([{"url": f"https://n.example/{i}"} for i in range(50)])
    client.close()
    state = json.loads((tmp_path / "db" / "server.json").read_text())
    pid = state["pid"]
    threads = [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir() if int(t.name) != pid]
    assert threads, "the server runs its database work on threads"
    try:
        _signal_thread(pid, threads[0], signal.SIGTERM)
        time.sleep(1.0)
        if not _alive(pid):  # the main thread was awake (a busy machine) and handled it at once
            pytest.skip("the server handled this SIGTERM at once; the stuck case did not arise")
        _listening(state["port"])
        deadline = time.monotonic() + 3
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid)
    finally:
        server.release()


def test_a_server_started_in_the_background_is_joined_and_stopped_by_the_last_holder(tmp_path):
    background = EmbeddedServer(tmp_path)
    with background.starting() as started:
        uri = started.result(timeout=30)
        store = EmbeddedServer(tmp_path)  # what Store.open does meanwhile, in the same process
        assert store.acquire() == uri
        pid = json.loads((tmp_path / "db" / "server.json").read_text())["pid"]
        store.release()
        assert _alive(pid)  # the background start still holds it
        with pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
            client.admin.command("ping")
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def test_a_data_dir_that_cannot_hold_the_database_is_a_clear_error(tmp_path):
    (tmp_path / "db").write_text("a file where the database directory should be")
    with EmbeddedServer(tmp_path).starting() as started, pytest.raises(EmbeddedServerError) as raised:
        started.result(timeout=30)
    assert str(raised.value).startswith(f"cannot run the embedded database in {tmp_path / 'db'}: ")


def _bystander(*args: str) -> subprocess.Popen:
    """A process that is not our server: what a pid in a stale server.json may name after a reboot."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", *args])


@pytest.mark.parametrize("args", [(), ("nx-27017", "--data-dir", "/elsewhere/db/data")])
def test_a_stale_server_json_naming_another_process_leaves_that_process_alone(tmp_path, args):
    victim = _bystander(*args)
    try:
        (tmp_path / "db").mkdir()
        (tmp_path / "db" / "server.json").write_text(json.dumps({"pid": victim.pid, "port": 1}))
        server = EmbeddedServer(tmp_path)
        uri = server.acquire()  # a new server; the bystander is neither "wedged" nor stopped
        started = json.loads((tmp_path / "db" / "server.json").read_text())
        assert started["pid"] != victim.pid
        with pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
            client.admin.command("ping")
        os.kill(started["pid"], signal.SIGKILL)  # newsmon's server dies; the pid goes to the bystander
        while _alive(started["pid"]):
            time.sleep(0.05)
        (tmp_path / "db" / "server.json").write_text(json.dumps({"pid": victim.pid, "port": started["port"]}))
        server.release()  # the last holder leaves: it must not stop the bystander either
        time.sleep(0.3)
        assert victim.poll() is None
        assert not (tmp_path / "db" / "server.json").exists()
    finally:
        victim.kill()
        victim.wait()


def test_a_server_json_naming_a_process_of_another_user_is_stale_not_fatal(tmp_path):
    if os.getuid() == 0:
        pytest.skip("root may signal every process")
    others = [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and p.stat().st_uid != os.getuid() and _alive(int(p.name))
    ]
    if not others:
        pytest.skip("no process of another user to name")
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "server.json").write_text(json.dumps({"pid": others[0], "port": 1}))
    server = EmbeddedServer(tmp_path)
    server.acquire()
    server.release()


def _servers_of(data_dir: Path) -> list[int]:
    """The live nx-27017 processes serving `data_dir`, recorded or not."""
    needle = f"--data-dir\0{os.path.realpath(data_dir / 'db' / 'data')}\0".encode()
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and needle in (proc / "cmdline").read_bytes() and _alive(int(proc.name)):
                found.append(int(proc.name))
        except OSError:  # it exited while we looked
            continue
    return found


def _interrupt_once(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    """The first wait for the port raises `exc`: a Ctrl-C or a SIGTERM (as SystemExit from the
    handler cli.py installs) while the spawned server starts."""
    real, raised = _listening, []

    def listening(port: int) -> bool:
        if not raised:
            raised.append(port)
            raise exc
        return real(port)

    monkeypatch.setattr(monitor.embedded, "_listening", listening)


linux_only = pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads /proc")


@linux_only
@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(143)])
def test_a_start_interrupted_while_the_server_starts_stops_that_server(tmp_path, monkeypatch, exc):
    _interrupt_once(monkeypatch, exc)
    with pytest.raises(type(exc)):
        EmbeddedServer(tmp_path).acquire()
    assert _servers_of(tmp_path) == []
    assert not (tmp_path / "db" / "server.json").exists()


@linux_only
def test_a_ctrl_c_while_the_start_thread_is_launched_leaves_no_server(tmp_path, monkeypatch):
    """Ctrl-C can land in `Thread.start()`, which waits for the new thread: before the `try` of
    `starting`, that left the start running with nobody to release it."""
    real_start = monitor.embedded.threading.Thread.start

    def start(thread: monitor.embedded.threading.Thread) -> None:
        real_start(thread)
        raise KeyboardInterrupt

    monkeypatch.setattr(monitor.embedded.threading.Thread, "start", start)
    with pytest.raises(KeyboardInterrupt), EmbeddedServer(tmp_path).starting():
        pass
    deadline = time.monotonic() + 15
    while _servers_of(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _servers_of(tmp_path) == []


KILLED_WHILE_STARTING = """
import os, signal, sys
import monitor.embedded
from monitor.embedded import EmbeddedServer
def listening(port):  # newsmon is killed -9 while its server starts
    os.kill(os.getpid(), signal.SIGKILL)
monitor.embedded._listening = listening
EmbeddedServer(sys.argv[1]).acquire()
"""


@linux_only
def test_a_server_whose_starter_was_killed_is_used_not_doubled(tmp_path):
    killed = subprocess.run([sys.executable, "-c", KILLED_WHILE_STARTING, str(tmp_path)], timeout=60)
    assert killed.returncode == -signal.SIGKILL
    orphans = _servers_of(tmp_path)
    assert len(orphans) == 1
    server = EmbeddedServer(tmp_path)
    uri = server.acquire()
    try:
        assert _servers_of(tmp_path) == orphans  # the same server: not a second one on the same files
        with pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
            client.admin.command("ping")
    finally:
        server.release()
    deadline = time.monotonic() + 15
    while _servers_of(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _servers_of(tmp_path) == []


@linux_only
def test_an_unrecorded_server_of_the_data_dir_is_stopped_before_another_starts(tmp_path):
    """What an interrupted start left before server.json was written at the spawn: a server that
    only its own pid file names."""
    first = EmbeddedServer(tmp_path)
    first.acquire()
    orphan = json.loads((tmp_path / "db" / "server.json").read_text())["pid"]
    (tmp_path / "db" / "server.json").unlink()
    (tmp_path / "db" / "leases" / str(os.getpid())).unlink()
    monitor.embedded._held.pop(first.dir)
    second = EmbeddedServer(tmp_path)
    second.acquire()
    try:
        assert _servers_of(tmp_path) == [json.loads((tmp_path / "db" / "server.json").read_text())["pid"]]
        assert orphan not in _servers_of(tmp_path)
    finally:
        second.release()


@linux_only
def test_a_port_taken_as_the_server_starts_is_not_taken_for_the_server(tmp_path, monkeypatch):
    """Something binds the free port `_free_port` found before the spawned server does: the server
    exits, and the listener that answers is not it. server.json must not name a dead server with
    the squatter's port; the start goes on with another port."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        real, calls = monitor.embedded._free_port, []

        def free_port(preferred: int | None = None) -> int:
            calls.append(preferred)
            return taken if len(calls) == 1 else real(preferred)

        monkeypatch.setattr(monitor.embedded, "_free_port", free_port)
        server = EmbeddedServer(tmp_path)
        uri = server.acquire()
        try:
            state = json.loads((tmp_path / "db" / "server.json").read_text())
            assert state["port"] != taken
            time.sleep(0.5)
            assert _alive(state["pid"])
            with pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000) as client:
                client.admin.command("ping")
        finally:
            server.release()
