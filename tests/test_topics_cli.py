"""`newsmon topics` handlers, end to end through argparse and a subprocess; import purity."""

from __future__ import annotations

import argparse
import contextlib
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.commands import topics as topics_command
from monitor.models import Article
from monitor.topics import Document

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


GOOD_DOC = '{"id": "ok", "text": "war"}'


@pytest.mark.parametrize(
    ("line", "message"),
    [
        # str() of these matched "['war']", printed None, or turned stemming off without a word
        ('{"id": "d", "text": ["war"]}', "'text' must be a string, not an array"),
        ('{"id": null, "text": "war"}', "'id' must be a string or an integer, not null"),
        ('{"id": "d", "text": "war", "lang": 5}', "'lang' must be a string, not the number 5"),
        ('{"id": "d", "title": {"en": "war"}}', "'title' must be a string, not an object"),
        ('{"id": "d", "url": true}', "'url' must be a string, not a boolean"),
        ('{"id": true}', "'id' must be a string or an integer, not a boolean"),
        ('{"id": 1.0}', "'id' must be a string or an integer, not the number 1.0"),
        ('{"id": ["d"]}', "'id' must be a string or an integer, not an array"),
        # one id per output line: a line break or tab in one would look like two ids or a column
        ('{"id": "a\\nb", "text": "war"}', "'id' 'a\\nb' contains a tab, line break or other control"),
        ('{"id": "a\\tb"}', "'id' 'a\\tb' contains a tab"),
        ('{"id": "a\\rb"}', "contains a tab, line break"),
        ('{"id": "a\\u2028b"}', "contains a tab, line break"),
    ],
)
def test_documents_with_a_field_of_the_wrong_type_name_the_line(
    tmp_path: Path, line: str, message: str
) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text(f"{GOOD_DOC}\n{line}\n", encoding="utf-8")
    with pytest.raises(topics_command.InputError) as caught:
        list(topics_command._documents(str(path)))
    assert str(caught.value).startswith(f"{path}:2: ")
    assert message in str(caught.value)


def test_documents_accept_integer_ids_null_fields_and_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf" + b'{"id": 7, "title": null, "text": "war", "lang": "en"}\n{"id": "x", "url": ""}\n'
    )
    assert list(topics_command._documents(str(path))) == [
        Document(id="7", title="", text="war", url="", lang="en"),
        Document(id="x", title="", text="", url="", lang=""),
    ]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            ['{"id": "a", "query": "x"}', '{"id": "b", "query": "y"}', '{"id": "a", "query": "z"}'],
            "q.jsonl:3: query id 'a' is already used on line 1",
        ),
        (['{"id": 1, "query": "x"}', '{"id": "1", "query": "y"}'], "q.jsonl:2: query id '1' is already used"),
        (['{"id": "a\\tb", "query": "x"}'], "q.jsonl:1: 'id' 'a\\tb' contains a tab"),
        (['{"id": null, "query": "x"}'], "q.jsonl:1: 'id' must be a string or an integer, not null"),
    ],
)
def test_query_file_ids_must_be_unique_and_printable(tmp_path: Path, lines: list[str], message: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(topics_command.InputError, match="^" + re.escape(f"{tmp_path}/{message}")):
        topics_command._load_queries(str(path))


def test_match_wrong_field_type_exits_1_after_earlier_results(tmp_path: Path) -> None:
    docs = tmp_path / "docs.jsonl"
    docs.write_text(GOOD_DOC + '\n{"id": "d", "text": ["war"]}\n', encoding="utf-8")
    done = run("topics", "match", "--query", "war", "--jsonl", str(docs))
    assert done.returncode == 1
    assert done.stdout.splitlines() == ["ok"]
    assert done.stderr.strip() == f"{docs}:2: 'text' must be a string, not an array"


def test_match_files_saved_with_a_bom(tmp_path: Path) -> None:
    docs, queries = tmp_path / "docs.jsonl", tmp_path / "q.jsonl"
    docs.write_text(GOOD_DOC + "\n", encoding="utf-8-sig")  # as Notepad saves "UTF-8 with BOM"
    queries.write_text('{"id": "w", "query": "war"}\n', encoding="utf-8-sig")
    done = run("topics", "match", "--queries", str(queries), "--jsonl", str(docs))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["ok\tw"]


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
