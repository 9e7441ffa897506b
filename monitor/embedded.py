"""The embedded MongoDB-compatible server (nx-27017) under <data_dir>/db.

One server per data_dir, shared by every newsmon process that uses that data_dir (a
`newsmon crawl` while `newsmon run` is up). Each process takes a lease; the last one to
leave stops the server. A file lock orders starts and stops; the pid file and log are the
data_dir's own, so a stale pid file left by a killed server never blocks a restart, and a
restart takes the killed server's port when it can, so clients already connected find it again.
server.json is written as soon as the server is spawned and names a pid that is signalled only
while it is verifiably this data dir's nx-27017: pids get reused after the very crashes that
leave the file behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

log = logging.getLogger(__name__)

START_TIMEOUT_S = 20.0
PORT_REUSE_WAIT_S = 1.0
MAX_LOG_BYTES = 5 * 1024 * 1024


class EmbeddedServerError(RuntimeError):
    pass


class _PortTaken(EmbeddedServerError):
    """The server could not listen: something else holds its port."""


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours still answers kill(0); reap it if it is ours
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Exited, but not yet reaped by its parent: another process that started the server and
    still runs. Such a server answers kill(0), and whoever stopped it waited for the SIGKILL
    deadline (10 s) before going on."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc here (or it just went): kill(0) is all there is to go on
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]


def _cmdline(pid: int) -> str | None:
    """The command line of `pid`, its arguments joined by spaces; None if it cannot be read (gone,
    a zombie, hidden, or neither /proc nor ps here)."""
    proc = Path(f"/proc/{pid}/cmdline")
    if Path("/proc/self/cmdline").exists():
        try:
            raw = proc.read_bytes()
        except OSError:  # gone, or hidden from us (hidepid): either way not a server we may signal
            return None
        return raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace") or None
    try:  # no /proc (BSD, macOS): POSIX ps
        out = subprocess.run(
            ["ps", "-ww", "-o", "args=", "-p", str(pid)], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("cannot tell what process %d is (%s); it will not be signalled", pid, exc)
        return None
    return out.stdout.strip() or None


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _owns_listener(pid: int, port: int) -> bool | None:
    """Whether `pid` holds a socket listening on TCP `port` (Linux: /proc/net/tcp gives the
    listener's inode, /proc/PID/fd the process's sockets); None where /proc cannot tell. A connect
    alone cannot tell our server from anything else that took the port between `_free_port` and
    the server's bind: that server then exits, and server.json named a dead server."""
    listeners = set()
    try:
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            if not Path(table).exists():
                continue
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    listeners.add(f"socket:[{fields[9]}]")
        if not listeners:
            return None if not Path("/proc/net/tcp").exists() else False
        fds = Path(f"/proc/{pid}/fd")
        for fd in fds.iterdir():
            with contextlib.suppress(FileNotFoundError):  # closed while we look
                if os.readlink(fd) in listeners:
                    return True
    except (OSError, IndexError, ValueError) as exc:
        log.debug("cannot tell who listens on port %d: %s", port, exc)
        return None
    return False


def _serves(pid: int, port: int) -> bool:
    """`port` answers, and (where the system can tell) `pid` is the one listening on it."""
    return _listening(port) and _owns_listener(pid, port) is not False


def _can_listen(port: int) -> bool:
    """Whether a server could listen on `port` (with SO_REUSEADDR, as servers do, so that the
    connections of a killed server still closing do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port(preferred: int | None = None) -> int:
    """`preferred` if it is free within `PORT_REUSE_WAIT_S` (just after a kill, the kernel
    still counts it as used for a moment), else any free port."""
    if preferred:
        deadline = time.monotonic() + PORT_REUSE_WAIT_S
        while True:
            if _can_listen(preferred):
                return preferred
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        log.debug("port %d of the previous embedded database is taken; using another", preferred)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_command() -> list[str]:
    script = Path(sys.executable).with_name("nx-27017")
    if script.exists():
        return [str(script)]
    found = shutil.which("nx-27017")
    if found:
        return [found]
    return [sys.executable, "-c", "from nx_27017.nx_27017 import main; main()"]


_held: dict[Path, int] = {}  # data dir -> how many Store.open() in this process hold it
_held_lock = threading.Lock()


class EmbeddedServer:
    def __init__(self, data_dir: Path):
        self.dir = Path(data_dir) / "db"
        self.state_file = self.dir / "server.json"
        self.leases = self.dir / "leases"
        self.lease = self.leases / str(os.getpid())

    @property
    def data(self) -> str:
        """The server's --data-dir, absolute and without symlinks: what `_ours` looks for in a
        process's command line, whatever the cwd of the newsmon that started it."""
        return os.path.realpath(self.dir / "data")

    def _ours(self, pid: int) -> bool:
        """Whether `pid` is an nx-27017 serving this data dir. server.json outlives exactly the
        crashes (kill -9, OOM, reboot) after which its pid gets reused: only a process that is
        verifiably ours is ever signalled or trusted; any other makes the file stale."""
        if not _alive(pid):
            return False
        cmdline = _cmdline(pid)
        if cmdline is None:
            return False
        return ("nx-27017" in cmdline or "nx_27017" in cmdline) and f" --data-dir {self.data} " in (
            cmdline + " "
        )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _state(self) -> dict | None:
        try:
            return json.loads(self.state_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def running_port(self) -> int | None:
        state = self._state()
        if state and not state.get("starting") and self._ours(state["pid"]) and _listening(state["port"]):
            return int(state["port"])
        return None

    def acquire(self, *, cancel: threading.Event | None = None) -> str:
        """Start the server or join the running one; return its MongoDB URI. A start waiting for
        its server gives up (and stops it) once `cancel` is set."""
        try:
            with _held_lock, self._locked():
                port = self.running_port() or self._start(cancel)
                self.leases.mkdir(exist_ok=True)
                self.lease.write_text(str(port))
                _held[self.dir] = _held.get(self.dir, 0) + 1
        except OSError as exc:  # a data_dir that is a file, read-only, full, or the server not installed
            raise EmbeddedServerError(f"cannot run the embedded database in {self.dir}: {exc}") from exc
        return f"mongodb://127.0.0.1:{port}/"

    @contextlib.contextmanager
    def starting(self) -> Iterator[Future[str]]:
        """`acquire` on a thread, so this one can import the database driver (~0.3 s of CPU)
        while the server process starts (~0.2 s): the caller waits on the future, then opens the
        store, which joins the running server at once. Released on exit."""
        started: Future[str] = Future()

        cancel = threading.Event()

        def acquire() -> None:
            if not started.set_running_or_notify_cancel():
                return  # the caller left (Ctrl-C) before this thread ran
            try:
                started.set_result(self.acquire(cancel=cancel))
            except BaseException as exc:  # handed to the caller, who waits on `started`
                started.set_exception(exc)

        thread = threading.Thread(target=acquire, name="newsmon-embedded-start", daemon=True)
        try:
            thread.start()  # in the try: a Ctrl-C can land while start() waits for the thread
            yield started
        finally:
            # A caller leaving early (Ctrl-C, SIGTERM as SystemExit) must not leave the server
            # behind: the start stops the server it spawned, or this releases it once it is up.
            # (A daemon thread left running is frozen at exit, mid-start, with nothing to stop it.)
            cancel.set()
            if not started.cancel() and started.exception() is None:
                self.release()

    def revive(self) -> int | None:
        """Start the server again if it died (the OOM killer, kill -9) while this process holds a
        lease; the port it had, so that clients already connected find it again. Returns the
        port if it was restarted. For long-lived holders (`newsmon run`), whose client would
        otherwise point at a dead port for good while nothing else restarts the server."""
        try:
            with _held_lock, self._locked():
                if not _held.get(self.dir) or self.running_port():
                    return None
                return self._start()
        except OSError as exc:
            raise EmbeddedServerError(f"cannot run the embedded database in {self.dir}: {exc}") from exc

    def release(self) -> None:
        """Leave; stop the server when no live process holds a lease."""
        with _held_lock, self._locked():
            _held[self.dir] = max(_held.get(self.dir, 0) - 1, 0)
            if _held[self.dir]:  # another thread of this process still uses it
                return
            self.lease.unlink(missing_ok=True)
            if self._live_leases():
                return
            state = self._state()
            if state and self._ours(state["pid"]):
                self._stop(state["pid"], state.get("port"))
            self.state_file.unlink(missing_ok=True)

    def _live_leases(self) -> list[int]:
        live = []
        for f in self.leases.glob("*") if self.leases.exists() else ():
            pid = int(f.name) if f.name.isdigit() else -1
            if pid != os.getpid() and _alive(pid):
                live.append(pid)
            else:
                f.unlink(missing_ok=True)  # a process that died without releasing
        return live

    def _record(self, pid: int, port: int, *, starting: bool = False) -> None:
        """server.json. Written as "starting" right after the spawn, before waiting for the server
        to answer: a start interrupted there (Ctrl-C, SIGTERM, kill -9 of newsmon) leaves a server
        the next command knows about, instead of one nothing tracks beside a second on the same files."""
        state: dict = {"pid": pid, "port": port}
        if starting:
            state.update(starting=True, since=time.time())
        partial = self.state_file.with_suffix(".json.new")
        partial.write_text(json.dumps(state))
        partial.replace(self.state_file)

    def _adopt_or_stop(self, state: dict | None, cancel: threading.Event | None) -> int | None:
        """Deal with the servers of this data dir that do not answer (or were never recorded as
        answering), so that at most one ever serves its files: one whose start was interrupted is
        waited for and kept (its port is returned); a wedged one, or one that nothing recorded
        (its pid is only in its own pid file), is stopped."""
        if state and self._ours(state["pid"]):
            pid, port = state["pid"], state["port"]
            if state.get("starting"):
                deadline = state.get("since", 0) + START_TIMEOUT_S
                while self._ours(pid) and not _serves(pid, port) and time.time() < deadline:
                    if cancel is not None and cancel.is_set():
                        raise EmbeddedServerError("the start of the embedded database was cancelled")
                    time.sleep(0.05)
                if self._ours(pid) and _serves(pid, port):
                    log.info("embedded database pid %s, whose start was interrupted, is up: using it", pid)
                    self._record(pid, port)
                    return port
            log.warning("embedded database pid %s does not answer; restarting it", pid)
            self._stop(pid, port)
        elif state and _alive(state["pid"]):
            log.info("%s names pid %s, which is not its server: stale", self.state_file, state["pid"])
        try:
            untracked = int((self.dir / "nx-27017.pid").read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            untracked = 0
        if untracked and (not state or untracked != state["pid"]) and self._ours(untracked):
            log.warning("stopping embedded database pid %d, which ran on %s unrecorded", untracked, self.dir)
            port_arg = re.search(r" --port (\d+)", _cmdline(untracked) or "")
            self._stop(untracked, int(port_arg[1]) if port_arg else None)
        return None

    def _start(self, cancel: threading.Event | None = None) -> int:
        state = self._state()
        adopted = self._adopt_or_stop(state, cancel)
        if adopted is not None:
            return adopted
        # the previous server's port if free: a long-lived client (`newsmon run`) reconnects to it
        port = _free_port(state.get("port") if state else None)
        try:
            return self._spawn(port, cancel)
        except _PortTaken:  # something took the port after `_free_port` saw it free: any other one
            log.warning("port %d was taken as the embedded database started; using another", port)
            return self._spawn(_free_port(), cancel)

    def _spawn(self, port: int, cancel: threading.Event | None) -> int:
        pid_file = self.dir / "nx-27017.pid"
        pid_file.unlink(missing_ok=True)  # stale after a kill -9; the server refuses to start otherwise
        log_file = self.dir / "nx-27017.log"
        if log_file.exists() and log_file.stat().st_size > MAX_LOG_BYTES:
            log_file.replace(log_file.with_suffix(".log.1"))
        cmd = [
            *_server_command(),
            "--data-dir",
            self.data,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--pid-file",
            str(pid_file),
            "--log-file",
            str(log_file),
        ]
        (self.dir / "data").mkdir(exist_ok=True)
        with open(log_file, "ab") as out:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, close_fds=True
            )
        try:
            self._record(proc.pid, port, starting=True)
            self._await_listening(proc, port, log_file, cancel)
        except BaseException:  # Ctrl-C, SystemExit from a SIGTERM handler, a failed start: no orphan
            if proc.poll() is None:  # not reaped yet, so the pid is still the server's to signal
                self._stop(proc.pid, port)
            with contextlib.suppress(FileNotFoundError):
                if json.loads(self.state_file.read_text()).get("pid") == proc.pid:
                    self.state_file.unlink()
            raise
        self._record(proc.pid, port)
        log.info("started embedded database on 127.0.0.1:%d (pid %d, data in %s)", port, proc.pid, self.dir)
        return port

    @staticmethod
    def _await_listening(
        proc: subprocess.Popen, port: int, log_file: Path, cancel: threading.Event | None
    ) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _serves(proc.pid, port):
            if proc.poll() is not None:
                if _listening(port):
                    raise _PortTaken(port)
                raise EmbeddedServerError(
                    f"the embedded database exited with code {proc.returncode}; see {log_file}"
                )
            if time.monotonic() > deadline:
                raise EmbeddedServerError(f"the embedded database did not start in {START_TIMEOUT_S}s")
            if cancel is not None and cancel.is_set():
                raise EmbeddedServerError("the start of the embedded database was cancelled")
            time.sleep(0.01)

    @staticmethod
    def _stop(pid: int, port: int | None = None) -> None:
        """SIGTERM, then SIGKILL after 10 s. While waiting, connect to the server now and then:
        its SIGTERM handler is Python code that runs on its main thread, which sits in its event
        loop's epoll wait; when the kernel hands the signal to one of the server's database
        threads instead, nothing wakes that loop and the server would idle until SIGKILL. A
        connection is an event that wakes it (seen as an intermittent 10 s stall at crawl end)."""
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        except PermissionError:  # not ours after all (`_ours` checked, but a pid can change hands)
            log.warning("not allowed to stop pid %d; leaving it alone", pid)
            return
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            if port:
                _listening(port)
            time.sleep(0.05)
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError) as exc:
                log.warning("could not kill pid %d: %s", pid, exc)
