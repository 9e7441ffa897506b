"""The one-pass tokeniser gives exactly what the reference regular expression gives."""

from __future__ import annotations

import re

import pytest

from monitor.topics import normalize

# The reference: a word followed by the separator that may join it to the next word.
_WORD_SEP_RE = re.compile(
    r"([\w\u0300-\u036f]+(?:['’‘`ʼ][\w\u0300-\u036f]+)*)([ \-\u00a0\u2010\u2011](?=\w))?"
)


def reference_tokenize(text: str) -> tuple[list[str], list[str]]:
    found = _WORD_SEP_RE.findall(text)
    if not found:
        return [], []
    raw, seps = zip(*found, strict=True)
    folded = [normalize.fold(w) for w in raw]
    fw = normalize.FUNCTION_WORDS
    glued = [
        a + b
        if s and (s in "-\u2010\u2011" or (len(a) > 2 and len(b) > 2 and a not in fw and b not in fw))
        else ""
        for a, b, s in zip(folded, folded[1:], seps, strict=False)
    ]
    glued.append("")
    return folded, glued


TEXTS = [
    "",
    "   ",
    "--",
    "cease-fire cease fire cease  fire cease\u00a0fire cease\u2011fire cease -fire cease- fire",
    "and I the rapist l'Élysée d'Artagnan qu'il perемир'я Перемир’я dell'Italia",
    "word_with_underscore _lead trail_ a-_b x-\u0301y a \u0301b e\u0301tude",
    "COVID-19 x-ray 3-4 2024 end. Next\n\nPara\tTab  double\u00a0\u00a0nbsp",
    "«Guillemets» „Anführung“ (brackets) [x] {y} — dash – en ‐ hyphen ‑ nb",
    "Straße Œuvre Ægir Łódź ёлка Її йод ў",
    "trailing-",
    "-leading",
    "a",
]


@pytest.mark.parametrize("text", TEXTS)
def test_tokenize_matches_reference(text: str) -> None:
    assert normalize.tokenize(text) == reference_tokenize(text)


@pytest.mark.parametrize("lang", ["en", "fr", "ru", "uk", ""])
@pytest.mark.parametrize("text", TEXTS)
def test_analyse_text_is_tokenize_plus_stems(text: str, lang: str) -> None:
    folded, glued = reference_tokenize(text)
    got_folded, got_stems, got_pairs = normalize.analyse_text(text, lang)
    assert list(got_folded) == folded
    assert list(got_stems) == normalize.stem_all(folded, lang)
    assert got_pairs == normalize.stem_all(glued, lang)


def test_tokenize_matches_reference_on_random_text() -> None:
    import random

    rng = random.Random(11)
    alphabet = [*"ab cdé-_'’\u00a0\u2010\u2011\u0301\n\t.,ёй1", "the", "and", "cease", "fire", "l'", " "]
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert normalize.tokenize(text) == reference_tokenize(text), repr(text)
        folded, glued = reference_tokenize(text)
        _, stems, pairs = normalize.analyse_text(text, "en")
        assert list(stems) == normalize.stem_all(folded, "en"), repr(text)
        assert pairs == normalize.stem_all(glued, "en"), repr(text)


def _reference_fold(word: str) -> str:
    """The general folding path (casefold, NFKD, marks dropped but on Cyrillic й/ї/ў, NFC)."""
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", word.casefold().translate(normalize._APOSTROPHES))
    out: list[str] = []
    prev = ""
    for ch in decomposed:
        if unicodedata.combining(ch):
            if ch in normalize._KEEP_ON_CYRILLIC and normalize._is_cyrillic(prev) and prev != "е":
                out.append(ch)
            continue
        out.append(ch)
        prev = ch
    return unicodedata.normalize("NFC", "".join(out)).translate(normalize._SPELLED)


def test_ascii_fast_path_folds_like_the_general_path() -> None:
    import random

    rng = random.Random(5)
    chars = [chr(c) for c in range(128)]
    words = ["".join(rng.choice(chars) for _ in range(rng.randint(1, 8))) for _ in range(5000)]
    words += [*chars, "Kursk", "DON`T", "Ceasefire", "L'Elysee", "ABC_123"]
    for word in words:
        assert normalize._fold_uncached(word) == _reference_fold(word), repr(word)
    for word in ["Élysée", "Straße", "перемир’я", "Її", "œuvre"]:  # and the general path still runs
        assert normalize._fold_uncached(word) == _reference_fold(word), repr(word)


@pytest.mark.parametrize("lang", ["en", "fr", "ru", "uk", ""])
def test_title_and_text_in_one_pass_is_both_joined_by_the_sentinel(lang: str) -> None:
    sentinel = "\x00"
    for title in TEXTS:
        for text in TEXTS:
            t_folded, t_stems, t_pairs = normalize.analyse_text(title, lang)
            b_folded, b_stems, b_pairs = normalize.analyse_text(text, lang)
            got = normalize.analyse_title_and_text(title, text, lang, sentinel)
            folded, stems, pairs, n_title, first3 = got
            assert n_title == len(t_folded)
            assert first3 == tuple(w[:3] if len(w) >= 3 else "" for w in folded)
            assert folded == (*t_folded, sentinel, *b_folded)
            assert stems == (*t_stems, normalize.stem(sentinel, lang), *b_stems)
            assert pairs == [*t_pairs, "", *b_pairs]


@pytest.mark.parametrize("lang", ["en", "fr", "ru", ""])
def test_pairs_with_query_starts_are_the_rule_at_every_word(lang: str) -> None:
    """With a query vocabulary's `pair_starts`, a pair is kept exactly where the reference
    tokeniser glues a hyphen, or glues across a space after a word that begins a query word."""
    import random

    rng = random.Random(3)
    words = [w for text in TEXTS for w in reference_tokenize(text)[0]]
    vocabulary = ["ceasefire", "перемиря", "elysee", "therapist", "tabulate", "nextpara", "anfuhrung"]
    for title in TEXTS:
        for text in TEXTS:
            query_words = rng.sample(vocabulary, 3) + rng.sample(words, min(4, len(words)))
            starts = normalize.pair_starts(query_words)
            got = normalize.analyse_title_and_text(title, text, lang, "\x00", starts)
            expected = []
            for field, part in enumerate((title, text)):
                folded, glued = reference_tokenize(part)
                seps = [s for _, s in _WORD_SEP_RE.findall(part)]
                expected += [
                    normalize.stem(g, lang) if g and (s not in " \u00a0" or w in starts) else ""
                    for w, g, s in zip(folded, glued, seps, strict=True)
                ]
                if field == 0:
                    expected.append("")  # the sentinel
            assert got.pairs == expected, (title, text, sorted(starts & set(got.folded)))
