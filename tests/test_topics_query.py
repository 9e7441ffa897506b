"""Query parsing: malformed queries are refused with a message pointing at the column."""

from __future__ import annotations

import inspect
import sys

import pytest

from monitor.topics import Document, QueryError, TopicMatcher, compile_topic, explain
from monitor.topics.query import MAX_DEPTH, MAX_NEAR_NESTING


@pytest.mark.parametrize(
    ("query", "column", "reason"),
    [
        ("", 1, "empty query"),
        ("   ", 1, "empty query"),
        ('kursk "peace talks', 7, "unclosed quote"),
        ("kursk (offensive OR advance", 7, "unclosed parenthesis"),
        ("kursk offensive)", 16, "unmatched ')'"),
        ("kursk ()", 7, "empty parentheses"),
        ("russia NEAR/ talks", 8, "NEAR needs a distance"),
        ("russia NEAR talks", 8, "NEAR needs a distance"),
        ("russia NEAR/0 talks", 8, "at least 1"),
        ("NEAR/3 talks", 1, "NEAR needs a word or phrase on both sides"),
        ("russia NEAR/3", 8, "NEAR needs a word or phrase on both sides"),
        ("russia NEAR/3 -talks", 8, "NEAR needs a word or phrase on both sides"),
        ("russia NEAR/3 site:x.org", 8, "NEAR needs a word or phrase on both sides"),
        ("kursk -site:x.org NEAR/3 b", 8, "NEAR joins words, phrases, prefixes"),
        ("AND kursk", 1, "AND needs a term on both sides"),
        ("kursk AND", 7, "AND needs a term on both sides"),
        ("kursk OR", 7, "OR needs a term on both sides"),
        ("OR kursk", 1, "OR needs a term on both sides"),
        ("kursk OR OR donbas", 7, "OR needs a term on both sides"),
        ("kursk NOT", 7, "NOT needs a term after it"),
        ("kursk - baseball", 7, "'-' must be directly followed"),
        ("-baseball", 1, "only excludes"),
        ("NOT baseball -cricket", 1, "only excludes"),
        ("-site:example.org", 1, "only excludes"),
        ("kursk OR -baseball", 10, "only excludes"),
        ("site:", 1, "site: needs a domain"),
        ("title: kursk", 1, "title: needs a word"),
        ("title:(kursk OR donbas)", 1, "title: needs a word"),
        # title: before something that is not a word must not silently drop or spell it out
        ("kursk title:-offensive", 13, "title: cannot exclude; write -title:offensive to exclude it"),
        ("kursk title:—offensive", 13, "write -title:offensive to exclude it from titles"),
        ("title:site:example.org", 7, "site: is the article's address, not words of its title"),
        ("kursk title:NOT offensive", 13, 'not the operator NOT (quote it, title:"NOT", to search'),
        ("kursk title:OR donbas", 13, "not the operator OR"),
        ("kursk title:NEAR/3 offensive", 13, "not the operator NEAR/3"),
        ("kursk title:title:offensive", 13, "title: is written twice"),
        ("kursk title:titel:offensive", 13, "unknown field titel:"),
        ("kur*sk", 4, "'*' is only allowed at the end"),
        ("*", 1, "'*' must end a single word"),
        ("kursk !!!", 7, "no letters or digits"),
        ("\u0301*", 1, r"prefix '\u0301*' has no letters or digits"),  # folds to "": would match anything
        ("kursk title:\u0301\u0308*", 7, "has no letters or digits"),
        # misspelt operators and fields would silently become words that never match
        ("russia NEAR/five talks", 8, "NEAR needs a distance in words (e.g. NEAR/5"),
        ("russia near/5 talks", 8, "NEAR needs a distance in words (operators are upper case"),
        ("russia NEAR/99999999999999999999 talks", 8, "at most 1000 words"),
        ("russia NEAR/00001000000 talks", 8, "at most 1000 words"),  # leading zeros do not hide it
        ("russia NEAR/1001 talks", 8, "at most 1000 words"),
        ("russia NEAR/0000 talks", 8, "at least 1"),
        ("russia NEAR/" + "0" * 5000 + "1001 talks", 8, "at most 1000 words"),
        ("titel:kursk", 1, "unknown field titel: (fields are title: and site:"),
        ("kursk sites:example.org", 7, "unknown field sites:"),
        # typographic quotes and dashes fail as their ASCII forms do, shown as written
        ("“peace talks", 1, "unclosed quote"),
        ("kursk «мирні переговори", 7, "unclosed quote"),
        ("title:„peace talks", 7, "unclosed quote"),
        ("kursk — offensive", 7, "'—' must be directly followed by a term to exclude"),
        ("kursk –", 7, "'–' must be directly followed"),
        ("kursk (a −)", 10, "'−' must be directly followed"),
        ("kursk −−offensive", 7, "'−' must be directly followed"),
        ("—offensive", 1, "only excludes"),
        # nested past any real query: refused where the limit is passed, not a RecursionError
        pytest.param("(" * 200 + "kursk" + ")" * 200, 51, "more than 50 levels", id="200-parentheses"),
        pytest.param("kursk " + "NOT " * 1000 + "x", 7 + 4 * 50, "more than 50 levels", id="1000-NOT"),
        pytest.param("kursk " + "-(" * 30 + "x" + ")" * 30, 57, "more than 50 levels", id="30-minus-paren"),
        pytest.param("(a OR " * 500 + "a" + ")" * 500, 1 + 6 * 50, "more than 50 levels", id="500-nested-OR"),
        pytest.param("a" + " NEAR/5 a" * 1000, 3 + 9 * 8, "more than 8 NEARs", id="1000-NEAR-chain"),
        pytest.param("(a NEAR/5 " * 9 + "a" + ")" * 9, 4, "more than 8 NEARs", id="9-nested-NEAR"),
        pytest.param(
            "(" * 45 + "a" + ")" * 45 + " NEAR/5 a" * 6,
            93 + 9 * 5,
            "more than 50 levels",
            id="parens-then-NEAR",
        ),
    ],
)
def test_malformed_query(query: str, column: int, reason: str) -> None:
    with pytest.raises(QueryError) as caught:
        compile_topic("t", query=query)
    err = caught.value
    assert reason in err.reason
    assert err.column == column
    assert err.query == query
    lines = str(err).split("\n")
    assert reason in lines[0]
    assert lines[1] == f"  {query}"
    assert lines[2] == "  " + " " * (column - 1) + "^"


@pytest.mark.parametrize(
    ("typed", "ascii"),
    [
        ("“peace talks”", '"peace talks"'),
        ("„peace talks“", '"peace talks"'),
        ("”peace talks”", '"peace talks"'),
        ("«мирні переговори»", '"мирні переговори"'),
        ("» peace talks «", '" peace talks "'),
        ("‹peace talks›", '"peace talks"'),
        ('"peace talks”', '"peace talks"'),  # any quote closes any other, as '"' closes '"'
        ("kursk“peace talks”", 'kursk"peace talks"'),
        ("title:“peace talks” kursk", 'title:"peace talks" kursk'),
        ("kursk —offensive", "kursk -offensive"),
        ("kursk –offensive", "kursk -offensive"),
        ("kursk −offensive", "kursk -offensive"),
        ("kursk ‐offensive", "kursk -offensive"),
        ("kursk —“peace talks”", 'kursk -"peace talks"'),
        ("kursk –title:offensive −site:example.org", "kursk -title:offensive -site:example.org"),
        ("kursk —(baseball OR cricket)", "kursk -(baseball OR cricket)"),
        # inside a word a dash stays part of it, as '-' does: a compound, not an exclusion
        ("cease–fire", "cease-fire"),
        ("kursk—offensive", "kursk-offensive"),
        ("Waffen−Stillstand talks", "Waffen-Stillstand talks"),
        # apostrophes are not quotes
        ("перемир’я", "перемир'я"),
        ("l’Élysée ‘talks’", "l'Élysée 'talks'"),
    ],
)
def test_typographic_quotes_and_dashes_mean_what_ascii_ones_do(typed: str, ascii: str) -> None:
    assert explain(typed) == explain(ascii)


@pytest.mark.parametrize(
    ("minus", "not_"),
    [
        ("kursk -a NEAR/3 b", "kursk NOT a NEAR/3 b"),
        ('kursk -"a b" NEAR/3 c*', 'kursk NOT "a b" NEAR/3 c*'),
        ("kursk -(a OR b) NEAR/3 c NEAR/2 d", "kursk NOT (a OR b) NEAR/3 c NEAR/2 d"),
        ("kursk —a NEAR/3 b", "kursk NOT (a NEAR/3 b)"),
    ],
)
def test_minus_before_near_excludes_the_near_like_not(minus: str, not_: str) -> None:
    assert explain(minus) == explain(not_)
    assert "  NOT\n    NEAR/" in explain(minus)


N = MAX_DEPTH
DEEPEST_ACCEPTED = {  # query, a document it matches that makes evaluation reach the bottom
    "parentheses": ("(" * N + "kursk" + ")" * N, "kursk"),
    "NOT": ("kursk " + "NOT " * N + "x", "kursk x"),
    "minus": ("kursk " + "-(" * (N // 2) + "x" + ")" * (N // 2), "kursk"),
    "OR-AND": ("(a OR b " * N + "c" + ")" * N, "b c"),
    "phrase-OR": ('("a b" OR x (' * (N // 2) + '"a b"' + "))" * (N // 2), "x a b"),
    "NEAR-chain": ("a" + " NEAR/5 a" * MAX_NEAR_NESTING, "a " * (MAX_NEAR_NESTING + 2)),
    "parentheses-NEAR": (
        "(" * (N - MAX_NEAR_NESTING) + "a" + ")" * (N - MAX_NEAR_NESTING) + " NEAR/5 a" * MAX_NEAR_NESTING,
        "a " * 12,
    ),
    "NEAR-OR": ("a NEAR/5 (b OR " * MAX_NEAR_NESTING + "c" + ")" * MAX_NEAR_NESTING, "a c " * 10),
    "OR-in-NEAR": ("a NEAR/5 " + "(b OR " * (N - 1) + "c" + ")" * (N - 1), "a c"),
}


@pytest.mark.parametrize("name", DEEPEST_ACCEPTED)
def test_deepest_accepted_query_compiles_and_matches(name: str) -> None:
    query, text = DEEPEST_ACCEPTED[name]
    limit = sys.getrecursionlimit()
    # parsing, compiling, presearch and matching must leave most of the stack to the caller
    sys.setrecursionlimit(len(inspect.stack()) + 450)
    try:
        topic = compile_topic("t", query=query)
        assert explain(query)
        doc = Document("d", "", text, "", "en")
        for presearch in (True, False):
            matcher = TopicMatcher([topic], presearch=presearch)
            assert [hit.topic for hit in matcher.match(doc)] == ["t"]
            assert matcher.matching(matcher.analyse(doc)) == [0]
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.parametrize("op", [" OR ", " AND ", " ", " -"])
def test_long_flat_query_works(op: str) -> None:
    words = [f"w{i}" for i in range(10_000)]
    topic = compile_topic("t", query="w0" + op + op.join(words[1:]))
    doc = Document("d", "", "w0 w1 w9999", "", "en")
    matcher = TopicMatcher([topic])
    assert matcher.matching(matcher.analyse(doc)) == ([0] if op == " OR " else [])


def test_query_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unclosed quote"):
        compile_topic("t", query='"open')


@pytest.mark.parametrize(
    "query",
    [
        "Kursk (offensive OR advance) -baseball",
        'title:"peace talks" site:example.org -site:spam.example.org',
        "russia NEAR/5 (talks OR negotiations) kurs*",
        "site:example.org",  # positive on its own: evaluated for every document
        "a AND b OR c NOT d",
        "and or not near",  # lower case: words
        '"titel:kursk" "near/5"',  # quoted: as written
        "talks at 10:30",  # digits before a colon: no field
        "title:not title:near title:kursk-offensive title:10:30",  # lower-case words, a compound, digits
    ],
)
def test_valid_queries_compile(query: str) -> None:
    assert compile_topic("t", query=query).name == "t"


@pytest.mark.parametrize(
    ("query", "distance"),
    [
        ("a NEAR/5 b", 5),
        ("a NEAR/1000 b", 1000),
        ("a NEAR/0000001 b", 1),  # leading zeros: the value is what counts
        ("a NEAR/01000 b", 1000),
        ("a NEAR/" + "0" * 5000 + "7 b", 7),
    ],
)
def test_near_distance_is_the_value_of_all_its_digits(query: str, distance: int) -> None:
    assert explain(query).split("\n")[0] == f"NEAR/{distance} (within {distance} words, either order)"


def test_keywords_or_query_exactly_one() -> None:
    with pytest.raises(QueryError, match="either keywords or query"):
        compile_topic("t")
    with pytest.raises(QueryError, match="either keywords or query"):
        compile_topic("t", keywords=["a"], query="a")
    with pytest.raises(QueryError, match="keyword #2 has no letters"):
        compile_topic("t", keywords=["ok", "--"])
    with pytest.raises(QueryError, match="keywords is empty"):
        compile_topic("t", keywords=[])


def test_explain_shows_structure_and_normalised_words() -> None:
    text = explain(
        'Kursk (offensive OR advance) -baseball title:"Cease-Fire" NEAR/3 l’Élysée site:Example.org'
    )
    assert text.split("\n") == [
        "AND",
        '  WORD "kursk"',
        "  OR",
        '    WORD "offensive"',
        '    WORD "advance"',
        "  NOT",
        '    WORD "baseball"',
        "  NEAR/3 (within 3 words, either order)",
        '    PHRASE title:"cease fire"',
        '    WORD "elysee"',
        "  SITE example.org (or a subdomain)",
    ]


def test_explain_refuses_malformed() -> None:
    with pytest.raises(QueryError):
        explain("(kursk")
