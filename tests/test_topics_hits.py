"""Scores, terms, snippets and highlights of a hit."""

from __future__ import annotations

import re

import pytest

from monitor.topics import Document, TopicMatcher, compile_topic, mark_text
from monitor.topics.snippet import SNIPPET_LIMIT, make_snippet

FILLER = " ".join(f"Sentence number {i} talks about nothing in particular." for i in range(40))


def hit_for(query: str, title: str, text: str, lang: str = "en"):
    hits = TopicMatcher([compile_topic("t", query=query)]).match(Document("d", title, text, lang=lang))
    assert len(hits) == 1
    return hits[0]


def test_title_hit_scores_above_body_hit() -> None:
    in_title = hit_for("kursk", "Kursk offensive", "Troops moved.")
    in_body = hit_for("kursk", "Offensive", "Kursk troops moved.")
    assert in_title.score > in_body.score


def test_more_distinct_hits_score_above_one() -> None:
    query = "kursk OR offensive"
    two = hit_for(query, "", "The Kursk offensive began.")
    one = hit_for(query, "", "The Kursk attack began.")
    assert two.score > one.score


def test_early_hit_scores_above_late_hit() -> None:
    early = hit_for("kursk", "", "Kursk was quiet. " + FILLER)
    late = hit_for("kursk", "", FILLER + " Kursk was quiet.")
    assert early.score > late.score


def test_repeats_add_a_little_but_less_than_a_new_term() -> None:
    repeated = hit_for("kursk OR offensive", "", "Kursk. Kursk again.")
    distinct = hit_for("kursk OR offensive", "", "Kursk. Offensive again.")
    single = hit_for("kursk OR offensive", "", "Kursk. Nothing again.")
    assert distinct.score > repeated.score > single.score


def test_snippet_is_the_sentence_of_the_strongest_hit_and_highlights_are_exact() -> None:
    text = FILLER + " Then the Kursk offensive started near the border. " + FILLER
    hit = hit_for("kursk offensive", "", text)
    assert "Then the Kursk offensive started near the border." in hit.snippet
    assert len(hit.snippet) <= SNIPPET_LIMIT
    assert [hit.snippet[s:e] for s, e in hit.highlights] == ["Kursk", "offensive"]
    assert hit.terms == ("Kursk", "offensive")
    assert "*Kursk* *offensive*" in mark_text(hit.snippet, hit.highlights)


def test_snippet_prefers_sentence_with_most_terms() -> None:
    text = "Kursk is a city. " + FILLER + " The Kursk offensive went on. " + FILLER
    hit = hit_for("kursk offensive", "", text)
    assert "The Kursk offensive went on." in hit.snippet


def test_snippet_never_cuts_inside_a_word_in_a_long_sentence() -> None:
    words = [f"word{i:03d}" for i in range(200)]
    words[120] = "Kursk"
    text = " ".join(words) + "."
    hit = hit_for("kursk", "", text)
    assert len(hit.snippet) <= SNIPPET_LIMIT + 2
    body = hit.snippet.strip("…")
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")
    for token in body.split(" "):
        assert re.fullmatch(r"word\d{3}|Kursk", token), token
    start, end = hit.highlights[0]
    assert hit.snippet[start:end] == "Kursk"


def test_snippet_collapses_whitespace_keeping_offsets() -> None:
    text = "Intro line.\n\nThe  Kursk\toffensive\n began. More text here."
    hit = hit_for('"kursk offensive"', "", text)
    assert "\n" not in hit.snippet and "  " not in hit.snippet
    assert [hit.snippet[s:e] for s, e in hit.highlights] == ["Kursk offensive"]


def test_snippet_from_title_when_only_title_matched() -> None:
    hit = hit_for("title:kursk", "Battle for Kursk", "Nothing about it here.")
    assert hit.snippet == "Battle for Kursk"
    assert hit.highlights == ((11, 16),)


def test_snippet_only_from_given_text() -> None:
    text = "The Kursk offensive."
    hit = hit_for("kursk", "Title", text)
    assert hit.snippet == text


def test_highlights_cover_compounds_and_elisions() -> None:
    hit = hit_for("ceasefire elysee", "", "La cease-fire à l’Élysée.", lang="fr")
    assert [hit.snippet[s:e] for s, e in hit.highlights] == ["cease-fire", "Élysée"]


def test_near_highlights_only_the_two_sides() -> None:
    hit = hit_for("russia NEAR/4 talks", "", "Russia said the talks failed.")
    assert [hit.snippet[s:e] for s, e in hit.highlights] == ["Russia", "talks"]


def test_excluded_terms_are_not_highlighted() -> None:
    hit = hit_for("kursk -baseball", "", "Kursk news.")
    assert [hit.snippet[s:e] for s, e in hit.highlights] == ["Kursk"]


@pytest.mark.parametrize(
    ("snippet", "highlights", "marked"),
    [
        ("a Kursk b", ((2, 7),), "a *Kursk* b"),
        ("Kursk", ((0, 5),), "*Kursk*"),
        ("x y z", ((0, 1), (4, 5)), "*x* y *z*"),
        ("no marks", (), "no marks"),
    ],
)
def test_mark_text(snippet: str, highlights: tuple, marked: str) -> None:
    assert mark_text(snippet, highlights) == marked


def test_make_snippet_adds_neighbour_sentences_within_limit() -> None:
    text = "One. Two has Kursk. Three."
    start = text.index("Kursk")
    snippet, marks = make_snippet(text, [(start, start + 5, "kursk", 2.0)])
    assert snippet == text
    assert [snippet[s:e] for s, e in marks] == ["Kursk"]


def test_a_term_written_two_ways_counts_once() -> None:
    """ "ceasefire" and "cease-fire" are one term: an article with both does not outrank one that
    matches two different terms of the query."""
    matcher = TopicMatcher([compile_topic("q", query="ceasefire OR truce")])

    def score(text: str) -> float:
        return matcher.match(Document("d", "", text, lang="en"))[0].score

    two_terms = score("Both sides agreed a ceasefire and a truce.")
    one_term_twice = score("Both sides agreed a ceasefire, a cease-fire.")
    assert one_term_twice < two_terms
    assert one_term_twice == score("Both sides agreed a ceasefire, a ceasefire.")
