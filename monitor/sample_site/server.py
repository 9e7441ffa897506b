"""A small real HTTP server for the bundled sample news site (used by `make demo` and the tests).

Serves files under a folder with `http://SITE` replaced by its own origin, answers
conditional requests (ETag / Last-Modified -> 304) like a well-behaved news site, and lets
a caller add routes (a broken feed, a 500, a slow page) and read back what was requested.
The bundled site's news is dated as of yesterday (its files say 15-17 March 2025): a digest
leaves out articles published more than a week before newsmon found them.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

SITE_ROOT = Path(__file__).resolve().parent
CONTENT_TYPES = {
    ".xml": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".rdf": "application/rdf+xml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
LAST_MODIFIED = formatdate(1742198400, usegmt=True)  # fixed: the sample files do not change
NEWS_DAY = date(2025, 3, 17)  # the bundled site's latest day, served as yesterday
_ISO_DAY = re.compile(rb"(?<!\d)2025-03-(\d\d)(?!\d)")  # 2025-03-17T09:30:00Z, datetime="2025-03-17"
_RFC822_DAY = re.compile(rb"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) Mar 2025\b")  # pubDate
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def dated_as_of(body: bytes, today: date) -> bytes:
    """The sample's March 2025 dates moved so that NEWS_DAY is the day before `today`."""
    shift = today - timedelta(days=1) - NEWS_DAY

    def day(m: re.Match[bytes]) -> date:
        return date(2025, 3, int(m[1])) + shift

    def iso(m: re.Match[bytes]) -> bytes:
        return day(m).isoformat().encode()

    def rfc822(m: re.Match[bytes]) -> bytes:
        d = day(m)
        return f"{_DAYS[d.weekday()]}, {d.day:02d} {_MONTHS[d.month - 1]} {d.year}".encode()

    return _RFC822_DAY.sub(rfc822, _ISO_DAY.sub(iso, body))


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Route = Callable[["SiteServer", BaseHTTPRequestHandler], Reply]


class SiteServer:
    """`with SiteServer() as site: site.url("/feeds/world.xml")`"""

    def __init__(self, root: Path = SITE_ROOT, host: str = "127.0.0.1", port: int = 0):
        self.root = root
        self.today = datetime.now(UTC).date()  # once: its files (and ETags) stay the same all along
        self.routes: dict[str, Route | Reply] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, path, headers)
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server._handle(self)

            def log_message(self, format: str, *args: object) -> None:  # quiet in tests and the demo
                return

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.origin = f"http://{host}:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> SiteServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return self.origin + path

    def hits(self, path: str) -> list[dict[str, str]]:
        with self._lock:
            return [h for m, p, h in self.requests if p == path]

    def _file(self, path: str) -> Reply:
        target = (self.root / path.lstrip("/")).resolve()
        if self.root.resolve() not in target.parents or not target.is_file():
            return Reply(404, b"not found", {"Content-Type": "text/plain"})
        body = target.read_bytes()
        if target.suffix in (".xml", ".atom", ".rdf", ".html"):
            body = body.replace(b"http://SITE", self.origin.encode())
            if self.root == SITE_ROOT:
                body = dated_as_of(body, self.today)
        ctype = CONTENT_TYPES.get(target.suffix, "application/octet-stream")
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        return Reply(200, body, {"Content-Type": ctype, "ETag": etag, "Last-Modified": LAST_MODIFIED})

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        path = urlsplit(handler.path).path
        with self._lock:
            self.requests.append(("GET", path, {k: v for k, v in handler.headers.items()}))
        route = self.routes.get(path)
        reply = route if isinstance(route, Reply) else route(self, handler) if route else self._file(path)
        if reply.status == 200 and "ETag" in reply.headers:
            inm = handler.headers.get("If-None-Match")
            ims = handler.headers.get("If-Modified-Since")
            if (inm and inm == reply.headers["ETag"]) or (
                not inm and ims and ims == reply.headers.get("Last-Modified")
            ):
                reply = Reply(304, b"", {"ETag": reply.headers["ETag"]})
        handler.send_response(reply.status)
        for k, v in reply.headers.items():
            handler.send_header(k, v)
        handler.send_header("Content-Length", str(len(reply.body)))
        handler.end_headers()
        handler.wfile.write(reply.body)
