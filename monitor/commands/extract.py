"""`newsmon extract --json FILE_OR_URL...`: run article extraction on saved pages or live URLs.

Prints one JSON object per input, in order, whatever happens (a failed input gives empty text and an
``error`` key), so the output lines up with the inputs for scripts such as the extraction benchmark.
This module holds the only network code of the extraction feature: a plain urllib fetch.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from monitor.gzipped import GzipError, gunzip

USER_AGENT = "Mozilla/5.0 (compatible; newsmon/0.1; +https://github.com/newsmon/newsmon)"
MAX_BYTES = 10 * 1024 * 1024
TIMEOUT = 20.0


def fetch(url: str, *, timeout: float = TIMEOUT, max_bytes: int = MAX_BYTES) -> tuple[bytes, str | None, str]:
    """GET a page: (body, content type, final URL). Refuses bodies over ``max_bytes``."""
    from monitor.extraction import ExtractionError  # lazy: every `newsmon` command builds this parser

    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "text/html,*/*;q=0.5"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read(max_bytes + 1)
        if len(body) > max_bytes:
            raise ExtractionError(f"page larger than {max_bytes} bytes")
        return body, response.headers.get("Content-Type"), response.geturl()


def _record(source: str, url_map: dict[str, str]) -> dict[str, Any]:
    from monitor.extraction import extract_article  # lazy: every `newsmon` command builds this parser

    if source.startswith(("http://", "https://")):
        body, content_type, final_url = fetch(source)
        art = extract_article(body, final_url, content_type=content_type)
    elif _SCHEME.match(source):
        raise ValueError(f"{source!r}: only http(s) URLs and files can be read")
    else:
        art = extract_article(_read_file(Path(source)), url_map.get(source, ""))
    return {
        "url": art.url or source,
        "title": art.title,
        "text": art.text,
        "authors": list(art.authors),
        "published": art.published.isoformat() if art.published else None,
        "language": art.language,
        "image": art.image,
        "canonical_url": art.canonical_url,
    }


_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]+://")


def _read_file(path: Path, max_bytes: int = MAX_BYTES) -> bytes:
    """A saved page, refused beyond ``max_bytes`` as a fetched one is (``/dev/zero`` never ends).
    A gzip-compressed one (the AEB corpus keeps its pages as .html.gz) is unpacked, told by its
    magic bytes rather than its name, and refused when it unpacks beyond ``max_bytes``."""
    with path.open("rb") as f:
        body = f.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise ValueError(f"{str(path)!r} is larger than {max_bytes} bytes")
    if body[:2] == b"\x1f\x8b":
        return _gunzip(body, str(path), max_bytes)
    return body


def _gunzip(body: bytes, name: str, max_bytes: int) -> bytes:
    try:
        return gunzip(body, max_bytes)
    except GzipError as exc:
        raise ValueError(f"{name!r} is {exc}") from None


def _load_url_map() -> dict[str, str]:
    path = os.environ.get("EXTRACTION_EVAL_URLS")
    if not path:
        return {}
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def run(sources: Sequence[str], out: TextIO) -> int:
    """Extract every source, one JSON line each; 1 if any failed, 2 if the URL map is unreadable."""
    try:
        url_map = _load_url_map()
    except (OSError, ValueError) as exc:  # ValueError: not UTF-8, not JSON
        print(f"newsmon extract: $EXTRACTION_EVAL_URLS: {exc}", file=sys.stderr)
        return 2
    failed = False
    for source in sources:
        try:
            record = _record(source, url_map)
        except Exception as exc:  # one line per input whatever happens; the error is reported in it
            failed = True
            record = {
                "url": url_map.get(source, source),
                "title": "",
                "text": "",
                "error": f"{type(exc).__name__}: {exc}",
            }
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    return 1 if failed else 0


def _handle(args: argparse.Namespace) -> int:
    return run(args.inputs, sys.stdout)


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print JSON Lines (the only format; kept explicit)"
    )
    parser.add_argument("inputs", nargs="+", metavar="FILE_OR_URL", help="saved HTML files or http(s) URLs")
    parser.set_defaults(func=_handle)


def register(subparsers: Any) -> None:
    """Add the `extract` sub-command to `newsmon`'s parser."""
    parser = subparsers.add_parser(
        "extract",
        help="extract clean article text from pages",
        description="Extract clean article text and metadata; one JSON object per input. "
        "$EXTRACTION_EVAL_URLS may name a JSON file mapping file paths to page URLs.",
    )
    _configure(parser)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command stand-alone (python -m monitor.commands.extract)."""
    parser = argparse.ArgumentParser(prog="newsmon extract")
    _configure(parser)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
