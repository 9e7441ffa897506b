"""`newsmon topics` handlers, end to end through argparse and a subprocess; import purity."""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.commands import topics as topics_command
from monitor.models import Article

DATA = Path(__file__).parent / "data" / "topics"
DOCS = str(DATA / "docs.jsonl")
QUERIES = str(DATA / "queries.jsonl")
REPO = Path(__file__).resolve().parents[1]

# The handler run as a program, without depending on the rest of the CLI being importable.
RUNNER = """
import argparse, sys
from monitor.commands import topics
parser = argparse.ArgumentParser(prog="newsmon")
topics.register(parser.add_subparsers(dest="command", required=True))
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", RUNNER, *argv], capture_output=True, text=True, cwd=REPO, timeout=60
    )


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="newsmon")
    topics_command.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


@pytest.mark.parametrize("presearch", [[], ["--no-presearch"]])
def test_match_one_query_prints_matching_ids(presearch: list[str]) -> None:
    done = run(
        "topics", "match", "--query", "Kursk (offensive OR advance) -baseball", "--jsonl", DOCS, *presearch
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["en1"]


def test_match_query_file_prints_doc_and_query_ids() -> None:
    done = run("topics", "match", "--queries", QUERIES, "--jsonl", DOCS)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "en1\tkursk",
        "en1\ttalks",
        "fr1\telysee",
        "uk1\ttruce",
        "ru1\ttalks",
        "de1\ttalks",
        "de1\ttruce",
    ]


PEACE_DOCS = [
    '{"id": "d1", "text": "Peace talks resumed today.", "lang": "en"}',
    '{"id": "d2", "text": "Talks about peace stalled.", "lang": "en"}',
    '{"id": "d3", "text": "Kursk offensive continues.", "lang": "en"}',
]


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ('"peace talks"', ["d1"]),
        ("“peace talks”", ["d1"]),  # pasted from a word processor: still a phrase, not an AND
        ("kursk -offensive", []),
        ("kursk —offensive", []),  # an em dash still excludes (it required "offensive")
        ("kursk −offensive", []),
    ],
)
def test_match_typographic_quotes_and_dashes(tmp_path: Path, query: str, ids: list[str]) -> None:
    docs = tmp_path / "docs.jsonl"
    docs.write_text("\n".join(PEACE_DOCS) + "\n", encoding="utf-8")
    done = run("topics", "match", "--query", query, "--jsonl", str(docs))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ids


def test_match_malformed_query_exits_2_with_caret() -> None:
    done = run("topics", "match", "--query", "Kursk (offensive", "--jsonl", DOCS)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == ["unclosed parenthesis (column 7)", "  Kursk (offensive", "        ^"]


def test_match_deeply_nested_query_exits_2_not_a_traceback() -> None:
    done = run("topics", "match", "--query", "(" * 200 + "kursk" + ")" * 200, "--jsonl", DOCS)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[0] == (
        "query nests too deeply: more than 50 levels of parentheses, NOT, - and NEAR (column 51)"
    )
    assert done.stderr.splitlines()[2] == "  " + " " * 50 + "^"


def test_match_malformed_query_in_file_names_line(tmp_path: Path) -> None:
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"id": "ok", "query": "kursk"}\n{"id": "bad", "query": "a NEAR/ b"}\n')
    done = run("topics", "match", "--queries", str(bad), "--jsonl", DOCS)
    assert done.returncode == 2
    assert "q.jsonl:2: query bad: NEAR needs a distance" in done.stderr


def test_match_unreadable_docs_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "docs.jsonl"
    bad.write_text('{"id": "x", "title": "t"}\nnot json\n')
    done = run("topics", "match", "--query", "kursk", "--jsonl", str(bad))
    assert done.returncode == 1
    assert "docs.jsonl:2: not JSON" in done.stderr


def test_match_docs_not_in_utf8_exit_1_naming_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "docs.jsonl"
    bad.write_bytes('{"id": "x", "title": "Kursk"}\n{"id": "y", "title": "café"}\n'.encode("latin-1"))
    done = run("topics", "match", "--query", "kursk", "--jsonl", str(bad))
    assert done.returncode == 1
    assert "docs.jsonl:2: not UTF-8" in done.stderr and "Traceback" not in done.stderr


def test_full_cli_when_available() -> None:
    probe = subprocess.run(
        [sys.executable, "-m", "monitor", "topics", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    if probe.returncode != 0:
        pytest.skip(f"`python -m monitor` not runnable yet: {probe.stderr.strip().splitlines()[-1:]}")
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "topics", "match", "--query", "elysee", "--jsonl", DOCS],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["fr1"]


class FakeStore:
    """A real object honouring the Store contract the lead's CLI provides (no mocking library)."""

    def __init__(self, articles: list[Article]):
        self.articles = articles
        self.since: datetime | None = None

    def iter_articles(self, since: datetime | None = None):
        self.since = since
        yield from self.articles


def test_test_command_shows_marked_hits(capsys: pytest.CaptureFixture[str]) -> None:
    now = datetime.now(UTC)
    articles = [
        Article(
            url=f"https://example.org/{i}", title=title, text=text, feed="f", source="page", published=now
        )
        for i, (title, text) in enumerate(
            [
                ("Kursk offensive", "The Kursk offensive began at dawn."),
                ("Other news", "Nothing to see."),
                ("Kursk again", "Troops near Kursk advanced."),
            ]
        )
    ]
    store = FakeStore(articles)
    args = parse(["topics", "test", "kursk", "--since", "7d", "--limit", "5", "--explain"])
    args.open_store = lambda: contextlib.nullcontext(store)
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert out.startswith('WORD "kursk"\n')
    assert "The *Kursk* offensive began at dawn." in out
    assert "Troops near *Kursk* advanced." in out
    assert "Nothing to see" not in out
    assert "2 matching article(s) of 3 scanned in the last 7d" in out
    assert store.since is not None and now - store.since > timedelta(days=6, hours=23)


def test_test_command_respects_limit(capsys: pytest.CaptureFixture[str]) -> None:
    articles = [Article(url=f"u{i}", title="Kursk", text="Kursk.", feed="f", source="page") for i in range(5)]
    args = parse(["topics", "test", "kursk", "--limit", "2"])
    args.open_store = lambda: contextlib.nullcontext(FakeStore(articles))
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert out.count("*Kursk*") == 2
    assert "limit reached" in out


def test_test_command_malformed_query(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse(["topics", "test", '"open'])
    args.open_store = lambda: pytest.fail("the store must not be opened for a bad query")
    assert args.func(args) == 2
    assert "unclosed quote (column 1)" in capsys.readouterr().err


def test_importing_topics_stays_pure() -> None:
    code = (
        "import sys, monitor.topics\n"
        "from monitor.topics import TopicMatcher, compile_topic, Document\n"
        "TopicMatcher([compile_topic('t', query='a')]).match(Document('d', 'a', 'b'))\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'scrapy', 'twisted', 'pymongo'})\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
