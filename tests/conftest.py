"""Real servers on 127.0.0.1 for the tests: the embedded store (or MongoDB when
MONITOR_TEST_MONGODB_URI is set), the sample news site, and an aiosmtpd mail server."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from monitor.embedded import EmbeddedServer
from monitor.sample_site.server import SiteServer

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NEWSMON_SHARED", REPO.parent / "shared"))


def shared_or_skip(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared folder beside the repo holds this data)")
    return path


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URI of a MongoDB wire-protocol server shared by the session."""
    uri = os.environ.get("MONITOR_TEST_MONGODB_URI")
    if uri:
        yield uri.rstrip("/") + "/"
        return
    server = EmbeddedServer(tmp_path_factory.mktemp("mongo"))
    yield server.acquire()
    server.release()


@pytest.fixture
def mongo_uri(mongo_server: str) -> str:
    """A fresh database per test, on the shared server."""
    base = mongo_server.split("?")[0].rstrip("/")
    if base.count("/") > 2:  # a URI that already names a database
        base = base.rsplit("/", 1)[0]
    return f"{base}/t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def site() -> Iterator[SiteServer]:
    with SiteServer() as server:
        yield server


class Mailbox:
    """aiosmtpd handler: keeps what it accepted (and its envelope); can refuse with a temporary
    failure, take its time over DATA, answer QUIT with something else than 221."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []  # (MAIL FROM, RCPT TOs) of each message
        self.refuse = False
        self.delay = 0.0  # seconds DATA waits before its reply: a slow server
        self.on_data: Callable[[], object] | None = None  # called as DATA arrives, before the reply
        self.quit_reply = ""  # e.g. "421 4.4.2 closing" instead of "221 Bye"
        self.login = ("", "")  # (user, password) the smtp_login server accepts
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.on_data is not None:
            self.on_data()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.refuse:
            return "451 4.3.0 try again later"
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content))
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK queued"

    async def handle_QUIT(self, server, session, envelope) -> str:
        return self.quit_reply or "221 Bye"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        given = (auth_data.login, auth_data.password) if isinstance(auth_data, LoginPassword) else None
        ok = given == tuple(x.encode() for x in self.login)
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


def _serve(box: Mailbox, **options) -> Iterator[tuple[Mailbox, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    yield from _serve(Mailbox())


@pytest.fixture
def smtp_login() -> Iterator[tuple[Mailbox, int]]:
    """A server that offers AUTH (PLAIN, LOGIN; without TLS) and accepts only box.login. It does not
    require it (aiosmtpd warns about requiring AUTH without TLS), but a client that logs in must
    get it right."""
    box = Mailbox()
    yield from _serve(box, authenticator=box.authenticate, auth_require_tls=False)


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def newsmon(config: Path | None, *args: str, timeout: float = 180, env: dict | None = None):
    cmd = [sys.executable, "-m", "monitor"] + (["--config", str(config)] if config else []) + list(args)
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}, cwd=REPO
    )


def start_crawl(config: Path, *, workers: int = 2) -> subprocess.Popen:
    """`newsmon crawl` in the background, in a process group of its own as a terminal starts it
    (so a test can signal the group as Ctrl-C, `timeout` or systemd do)."""
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "crawl"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MONITOR_WORKERS": str(workers)},
        start_new_session=True,
    )
