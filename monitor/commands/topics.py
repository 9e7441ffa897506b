"""`newsmon topics`: try topic queries against JSON Lines documents or the stored articles.

    newsmon topics match (--query Q | --queries FILE.jsonl) --jsonl DOCS.jsonl [--no-presearch]
    newsmon topics test QUERY [--since 30d] [--limit 20] [--explain]

Exit codes: 0 ok, 1 unreadable input, 2 malformed query (the error, with a caret under the
offending column, goes to stderr).
"""

from __future__ import annotations

import argparse
import codecs
import json
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from monitor import gcpolicy
from monitor.commands import count, since_cutoff
from monitor.terminal import printable
from monitor.topics import Document, QueryError, Topic, TopicMatcher, compile_topic, explain, mark_text

EXIT_INPUT = 1
EXIT_QUERY = 2


class InputError(Exception):
    """A JSON Lines file that cannot be used; the message names the file and line."""


def register(subparsers) -> None:
    """Add `topics match` and `topics test` to the top-level sub-parsers."""
    parser = subparsers.add_parser("topics", help="try topic queries on documents or stored articles")
    sub = parser.add_subparsers(dest="topics_command", required=True, metavar="SUBCOMMAND")

    p = sub.add_parser("match", help="match queries against documents given as JSON Lines")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--query", metavar="Q", help="one query; prints the ids of matching documents")
    which.add_argument(
        "--queries", metavar="FILE.jsonl", help='lines of {"id", "query"}; prints doc_id<TAB>query_id'
    )
    p.add_argument(
        "--jsonl", required=True, metavar="DOCS.jsonl", help='lines of {"id", "title", "text", "url", "lang"}'
    )
    p.add_argument(
        "--no-presearch", action="store_true", help="evaluate every query on every document (baseline)"
    )
    p.set_defaults(func=cmd_match)

    p = sub.add_parser("test", help="run a query against stored articles and show the hits")
    p.add_argument("query", metavar="QUERY")
    p.add_argument("--since", default="30d", metavar="DURATION", help="articles stored in this period (30d)")
    p.add_argument("--limit", type=count, default=20, metavar="N", help="show at most N hits (20)")
    p.add_argument("--explain", action="store_true", help="print how the query was parsed")
    p.set_defaults(func=cmd_test)


def _read_jsonl(path: str) -> Iterator[tuple[int, dict]]:
    try:
        with Path(path).open("rb") as lines:  # decoded line by line, so an error can name its line
            for number, raw in enumerate(lines, 1):
                # the byte order mark Windows editors write at the start of a UTF-8 file (utf-8-sig)
                bom = len(codecs.BOM_UTF8) if number == 1 and raw.startswith(codecs.BOM_UTF8) else 0
                try:
                    line = raw[bom:].decode("utf-8")
                except UnicodeDecodeError as exc:
                    message = f"{path}:{number}: not UTF-8 ({exc.reason} at byte {bom + exc.start})"
                    raise InputError(message) from exc
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}:{number}: not JSON: {exc.msg}") from exc
                if not isinstance(obj, dict):
                    raise InputError(f"{path}:{number}: expected a JSON object")
                yield number, obj
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from exc


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return "an array" if isinstance(value, list) else "an object"


def _id(obj: dict, where: str) -> str:
    """The "id" of a line as printed: a string or an integer, on one line and without a tab."""
    value = obj["id"]
    # str() of anything else is not what the file says: None, True, 1.0, ['a'] (bool is an int)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InputError(f"{where}: 'id' must be a string or an integer, not {_json_type(value)}")
    text = str(value)
    # one id per output line, and doc_id<TAB>query_id: these characters would break the lines
    if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in text):
        raise InputError(f"{where}: 'id' {text!r} contains a tab, line break or other control character")
    return text


def _text(obj: dict, key: str, where: str) -> str:
    """A text field: a string, or missing or null for none (str() of a list or number would match)."""
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{where}: {key!r} must be a string, not {_json_type(value)}")
    return value


def _documents(path: str) -> Iterator[Document]:
    for number, obj in _read_jsonl(path):
        where = f"{path}:{number}"
        if "id" not in obj:
            raise InputError(f"{where}: document has no 'id'")
        yield Document(
            id=_id(obj, where),
            title=_text(obj, "title", where),
            text=_text(obj, "text", where),
            url=_text(obj, "url", where),
            lang=_text(obj, "lang", where),
        )


def _load_queries(path: str) -> list[Topic]:
    topics = []
    first_line: dict[str, int] = {}  # query id -> line, so that each output line names one query
    for number, obj in _read_jsonl(path):
        where = f"{path}:{number}"
        if "id" not in obj or not isinstance(obj.get("query"), str):
            raise InputError(f"{where}: expected {{'id': ..., 'query': '...'}}")
        name = _id(obj, where)
        if name in first_line:
            raise InputError(f"{where}: query id {name!r} is already used on line {first_line[name]}")
        first_line[name] = number
        try:
            topics.append(compile_topic(name, query=obj["query"]))
        except QueryError as exc:
            raise QueryError(f"{where}: query {name}: {exc.reason}", exc.query, exc.column) from exc
    return topics


def cmd_match(args: argparse.Namespace) -> int:
    try:
        if args.query is not None:
            topics = [compile_topic("query", query=args.query)]
        else:
            topics = _load_queries(args.queries)
    except QueryError as exc:
        print(exc, file=sys.stderr)
        return EXIT_QUERY
    except InputError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INPUT
    matcher = TopicMatcher(topics, presearch=not args.no_presearch)
    gcpolicy.keep_what_is_built()
    out = sys.stdout
    try:
        for doc in _documents(args.jsonl):
            analysis = matcher.analyse(doc)
            for i in matcher.matching(analysis):
                if args.query is not None:
                    out.write(f"{doc.id}\n")
                else:
                    out.write(f"{doc.id}\t{matcher.topics[i].name}\n")
    except InputError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INPUT
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    try:
        topic = compile_topic("query", query=args.query)
        if args.explain:
            print(explain(args.query))
            print()
    except QueryError as exc:
        print(exc, file=sys.stderr)
        return EXIT_QUERY
    try:
        since = since_cutoff(args.since)
    except ValueError as exc:  # a usage error, as `export --since` and argparse's own say with 2
        print(f"newsmon topics test: --since: {exc}", file=sys.stderr)
        return EXIT_QUERY
    matcher = TopicMatcher([topic])
    shown = scanned = 0
    with args.open_store() as store:
        for article in store.iter_articles(since):
            if shown >= args.limit:
                break
            scanned += 1
            for hit in matcher.match(Document.of_article(article)):
                shown += 1
                when = article.published.strftime("%Y-%m-%d %H:%M") if article.published else "undated"
                print(f"{when}  {printable(article.title)}")
                print(f"  {printable(article.url)}")
                print(f"  score {hit.score:g}; matched: {printable(', '.join(hit.terms))}")
                print(f"  {printable(mark_text(hit.snippet, hit.highlights))}")
                print()
    period = f"in the last {args.since}" if args.since else "in the store"
    more = " (limit reached)" if shown >= args.limit else ""
    print(f"{shown} matching article(s) of {scanned} scanned {period}{more}")
    return 0
