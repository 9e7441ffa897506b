"""Turn text into comparable word forms: the one place where query and article meet.

Both sides go through exactly these functions, so whatever a rule decides (accents, apostrophes,
elisions, stems) it decides identically for the query and for the article.

Decisions (documented in the topics README section):

* Case and accents: `casefold`, NFKD, then combining marks are dropped (``Élysée`` -> ``elysee``),
  except a breve or diaeresis on a Cyrillic letter, which makes a different letter there
  (й, ї, ў stay; ``й`` is not ``и``). Russian ``ё`` is folded to ``е`` as Russian writing does.
  A few letters that are not decomposable are spelled out: œ->oe, æ->ae, ø->o, ł->l, đ->d, ß->ss.
* Apostrophes ' ’ ‘ ʼ ` are one character (``'``); inside a word they stay part of it
  (Ukrainian ``перемир'я``). French/Italian elisions (``l'``, ``d'``, ``qu'``, ``dell'``...) at the
  start of a Latin word are dropped: ``l'Élysée`` is the word ``elysee``.
* Hyphens split words; whether two adjacent words may also be read as one compound
  (``cease-fire``/``cease fire`` = ``ceasefire``) is recorded as a "joinable" flag: they are
  separated by exactly one space, hyphen or no-break space. Across a space, both have three or
  more letters, neither is a function word, and the first begins a query word (`pair_starts`).
* Stems: Snowball (PyStemmer) for en, de, fr, es, it, pt, ru; a light suffix stripper for uk
  (PyStemmer has none); other or unknown languages are compared unstemmed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from typing import NamedTuple

import Stemmer

# A word: letters/digits (plus stray combining marks of decomposed text), with apostrophes inside.
WORD_RE = re.compile(r"[\w\u0300-\u036f]+(?:['’‘`ʼ][\w\u0300-\u036f]+)*")

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "ʼ": "'", "ё": "е"})
_SPELLED = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "ı": "i", "ð": "d", "þ": "th"})
_KEEP_ON_CYRILLIC = {"\u0306", "\u0308"}  # breve (й, ў), diaeresis (ї)
_ELISION_RE = re.compile(
    r"^(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|quoiqu|dell|dall|nell|sull|all|un)'(?=[a-z0-9])"
)

STEMMED_LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "ru", "uk")
_SNOWBALL = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
    "ru": "russian",
}


def _is_cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u04ff"


def _fold_uncached(word: str) -> str:
    if word.isascii():  # the common case, and the same result: no accents, no letters to spell
        return word.lower().translate(_APOSTROPHES)  # out, casefold = lower in ASCII
    decomposed = unicodedata.normalize("NFKD", word.casefold().translate(_APOSTROPHES))
    out: list[str] = []
    prev = ""
    for ch in decomposed:
        if unicodedata.combining(ch):
            if ch in _KEEP_ON_CYRILLIC and _is_cyrillic(prev) and prev != "е":
                out.append(ch)
            continue
        out.append(ch)
        prev = ch
    folded = unicodedata.normalize("NFC", "".join(out)).translate(_SPELLED)
    return folded


class _FoldCache(dict):
    """word as written -> (folded word without elision, chars of the elision dropped from the front)."""

    def __missing__(self, word: str) -> tuple[str, int]:
        if len(self) > 500_000:  # bound memory on endless streams; refills quickly from live text
            self.clear()
        folded = _fold_uncached(word)
        cut = 0
        m = _ELISION_RE.match(folded)
        if m and len(folded) == len(word):  # 1:1 characters, so the cut maps back onto the original
            cut = m.end()
            folded = folded[cut:]
        value = self[word] = (folded, cut)
        return value


_FOLD = _FoldCache()


def fold(word: str) -> str:
    """The case/accent/apostrophe/elision-free form of one word as written."""
    return _FOLD[word][0]


def fold_with_cut(word: str) -> tuple[str, int]:
    """`fold` plus how many leading characters of `word` were an elision (for exact offsets)."""
    return _FOLD[word]


def words(text: str) -> list[str]:
    """Folded words of a query word or keyword phrase, in order (no stemming)."""
    return [w for w in (fold(m) for m in WORD_RE.findall(text)) if w]


FUNCTION_WORDS = frozenset(
    """
    the a an and or of to in on for is are was were be been by with at from as that this it its not but
    has have had will would he she they we you i his her their our s
    der die das und den von zu mit sich des auf für ist im dem nicht ein eine als auch es an er
    le la les de des du un une et en au aux pour que qui dans sur par est il elle ne pas se
    el los las del y que una por con para al lo
    il lo gli di della e che per non
    o os as do da dos das em um uma com nao
    и в во не что он на я с со как а то все она так его но да к у же вы за бы по только ее было
    і й на з що до та як від це
    """.split()  # noqa: SIM905 - easier to read and extend as text
)


_SPLIT_RE = re.compile(r"([\w\u0300-\u036f]+(?:['’‘`ʼ][\w\u0300-\u036f]+)*)")  # WORD_RE, captured
_JOINERS = frozenset(" -\u00a0\u2010\u2011")  # one of these alone between two words may join them
_HYPHENS = frozenset("-\u2010\u2011")


def _split(text: str) -> tuple[list[str], list[str]]:
    """Words of `text` as written (WORD_RE) and, per word, the separator that may join it to the
    next word: a single joiner character directly followed by a word character, else ""."""
    parts = _SPLIT_RE.split(text)
    raw = parts[1::2]
    # parts[2::2] are the gaps after each word; only the one-character ones can be joiners
    seps = [
        g if g in _JOINERS and (nxt[0].isalnum() or nxt[0] == "_") else ""
        for g, nxt in zip(parts[2::2], raw[1:], strict=False)
    ]
    seps.append("")
    return raw, seps


def _glue(folded: list[str] | tuple[str, ...], seps: list[str], fw: frozenset[str]) -> list[str]:
    """Per word, the word glued to the next one as a compound, or "" (rule: see `tokenize`)."""
    return [
        a + b if s and (s in _HYPHENS or (len(a) > 2 and len(b) > 2 and a not in fw and b not in fw)) else ""
        for a, b, s in zip(folded, folded[1:], seps, strict=False)
    ]


def tokenize(text: str) -> tuple[list[str], list[str]]:
    """Folded words of `text` and, per word, the word glued to the next one as a compound or "".

    Hyphenated neighbours always glue (``cease-fire``); space-separated ones only when both
    have three or more letters and neither is a function word, so ``cease fire`` reads as
    ``ceasefire`` but ``and I`` never reads as ``Andy`` nor ``the rapist`` as ``therapist``.
    """
    raw, seps = _split(text)
    if not raw:
        return [], []
    get = _FOLD.__getitem__
    folded = [get(w)[0] for w in raw]
    glued = _glue(folded, seps, FUNCTION_WORDS)
    glued.append("")
    return folded, glued


class _TokenCache(dict):
    """word as written -> (folded, stem, may glue to a neighbour across a space, starts with a
    word character, first three letters or "") in one language. Text repeats its vocabulary, so
    almost every word of an article is one dictionary look-up instead of fold + stem + the
    compound rule's tests."""

    def __init__(self, lang: str):
        super().__init__()
        self._stem = _stemmer(lang)

    def __missing__(self, word: str) -> tuple[str, str, bool, bool, str]:
        if len(self) > 500_000:
            self.clear()
        folded = _FOLD[word][0]
        value = self[word] = (
            folded,
            self._stem[folded],
            len(folded) > 2 and folded not in FUNCTION_WORDS,
            word[0].isalnum() or word[0] == "_",  # what WORD_SEP's (?=\w) looked at
            folded[:3] if len(folded) >= 3 else "",
        )
        return value


_TOKENS: dict[str, _TokenCache] = {}
_SPACES = frozenset(" \u00a0")


def _token_cache(lang: str) -> _TokenCache:
    cache = _TOKENS.get(lang)
    if cache is None:
        cache = _TOKENS[lang] = _TokenCache(lang)
    return cache


class _AnyWord:
    """`pair_starts` when no query vocabulary is given: every word may begin a compound."""

    def __contains__(self, word: object) -> bool:
        return True


_ANY_WORD = _AnyWord()


def _pairs(
    info: list[tuple[str, str, bool, bool, str]],
    gaps: list[str],
    stem: _StemCache,
    starts: AbstractSet[str] | None = None,
) -> list[str]:
    """Per word (`_TokenCache` values), the stem of it glued to the next word or "": `gaps[i]`
    is the text between words i and i+1, a joiner only if it is one character (so the
    membership tests below also check the gap's length).

    With `starts`, words joined across a space are glued only when the first of them is in
    `starts` (the beginnings of the query words a compound could match: see `pair_starts`), so
    an article's ordinary word pairs are not stemmed at all. Hyphenated pairs always glue.
    """
    hyphens, spaces = _HYPHENS, _SPACES
    if starts is None:
        starts = _ANY_WORD
    pairs = [
        stem[x[0] + y[0]]
        if y[3] and (g in hyphens or (g in spaces and x[2] and y[2] and x[0] in starts))
        else ""
        for x, y, g in zip(info, info[1:], gaps, strict=False)
    ]
    pairs.append("")
    return pairs


def pair_starts(query_words: Iterable[str]) -> frozenset[str]:
    """The words that may begin a two-word compound for `query_words` (folded): their proper
    beginnings of three or more letters (``cease`` of ``ceasefire``; words joined across a
    space have three or more letters each). This is the rule, not only a shortcut: two words
    of an article read as one only toward a query word that begins with the first of them, so
    a stemmer coincidence such as ``peace ful`` -> ``peac`` (= ``peace``) is no compound."""
    return frozenset(w[:k] for w in query_words for k in range(3, len(w)))


def analyse_text(text: str, lang: str) -> tuple[tuple[str, ...], tuple[str, ...], list[str]]:
    """`tokenize` plus stemming in one pass: (folded words, their stems, stems of the words
    glued to the next one or ""), for a language from `stem_language`."""
    parts = _SPLIT_RE.split(text)
    if len(parts) < 2:
        return (), (), []
    info = list(map(_token_cache(lang).__getitem__, parts[1::2]))
    # parts[2::2] are the gaps after each word
    pairs = _pairs(info, parts[2::2], _stemmer(lang))
    folded, stems, _, _, _ = zip(*info, strict=True)
    return folded, stems, pairs


class TitleAndText(NamedTuple):
    folded: tuple[str, ...]
    stems: tuple[str, ...]
    pairs: list[str]
    n_title: int
    first3: tuple[str, ...]  # per word its first three letters, or "" if shorter


def analyse_title_and_text(
    title: str, text: str, lang: str, sentinel: str, pair_starts: AbstractSet[str] | None = None
) -> TitleAndText:
    """`analyse_text` of the title, the word `sentinel`, then `analyse_text` of the text, in
    one pass (no per-field sequences to join). The sentinel never glues to either neighbour.
    `pair_starts`: see `_pairs`."""
    cache = _token_cache(lang)
    stem = _stemmer(lang)
    t_parts = _SPLIT_RE.split(title)
    b_parts = _SPLIT_RE.split(text)
    info = list(map(cache.__getitem__, t_parts[1::2]))
    n_title = len(info)
    # not a word character first and not a compound part: no pair on either side (see `_pairs`)
    info.append((sentinel, stem[sentinel], False, False, ""))
    info += map(cache.__getitem__, b_parts[1::2])
    gaps = t_parts[2::2]  # after each title word (the last: after the title)
    gaps.append("")  # after the sentinel
    gaps += b_parts[2::2]
    pairs = _pairs(info, gaps, stem, pair_starts)
    folded, stems, _, _, first3 = zip(*info, strict=True)
    return TitleAndText(folded, stems, pairs, n_title, first3)


def spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the words `tokenize` returns, same order (elisions not yet removed:
    see `elision_length`).

    Computed separately (only for matched articles) because spans are only needed for
    snippets and highlights, and match objects are the slow part of tokenising.
    """
    return [m.span() for m in WORD_RE.finditer(text)]


def elision_length(word: str) -> int:
    """How many leading characters of `word` as written are an elision (``l'`` -> 2)."""
    return _FOLD[word][1]


# ---- stemming ---------------------------------------------------------------------------------

# Ukrainian has no Snowball stemmer: a light one of our own. Inflection endings, tried longest
# first; the past-tense and 3rd-person endings that would eat the last consonant of a noun stem
# (ракет-и, обстріл-и, солдат-и) count only after the vowel a verb stem ends in (говори-ли,
# чита-в). Infinitives (-ти) are not stripped: "солдати", "кредити" are far more often plural
# nouns than "-ати"/"-ити" verbs, so an infinitive meets only itself.
_UK_ENDINGS = sorted(
    [
        # verbal nouns, adjectives
        "ування", "ювання", "ання", "ення", "іння",
        "ого", "ому", "ими", "іми", "ій", "ий", "их", "іх", "ої", "ою", "ім", "им",
        "ая", "яя", "ую", "юю", "еє",
        # nouns
        "ами", "ями", "ах", "ях", "ам", "ям", "ові", "еві", "єві", "ом", "ем", "єм", "ею", "єю", "ів", "їв",
        "ей", "а", "я", "о", "е", "є", "и", "і", "ї", "у", "ю", "ь", "й",
        # verbs: present tense, imperative
        "ють", "ять", "уть", "ать", "іть", "ить", "ємо", "емо", "имо", "їмо", "єте", "ете", "ите", "їте",
        "еш", "иш", "єш", "їш",
    ],
    key=len,
    reverse=True,
)  # fmt: skip
_UK_AFTER_VERB_VOWEL = ("ть", "ла", "ло", "ли", "в")
_UK_VERB_VOWELS = frozenset("аияуо")
_UK_VOWELS = frozenset("аеиоуюяіїєь'")
_UK_HARDENED = {"ц": "к", "з": "г"}
_UK_CLOSED_I = re.compile(r"([іїо])([^аеиоуюяіїєь']{1,2})$")


def _uk_stem(word: str) -> str:
    """Light Ukrainian stemmer: not a linguistic one; it makes the case and number forms of a
    noun or adjective, and the past and present forms of a verb, meet.

    Strips a reflexive ending, then the longest inflection ending (keeping three characters),
    then the stem vowel before it (Росі-я / Росі-ї). Then it undoes the alternations that
    inflection makes at the end of a stem, so that every form maps to one spelling: -ов/-ів/-єв
    and -ув (Харків/Харкова, Львів/Львова, атакува-ли/атаку-ють), к/г before і (атака/атаці,
    перемога/перемозі), і/ї in a closed last syllable (рік/року, Київ/Києва).
    """
    if len(word) > 5 and (word.endswith("ся") or word.endswith("сь")):
        word = word[:-2]
    stem = word
    for suffix in _UK_AFTER_VERB_VOWEL:
        cut = len(word) - len(suffix)
        if cut >= 3 and word.endswith(suffix) and word[cut - 1] in _UK_VERB_VOWELS:
            stem = word[:cut]
            break
    else:
        for suffix in _UK_ENDINGS:
            if len(word) - len(suffix) >= 3 and word.endswith(suffix):
                stem = word[: -len(suffix)]
                break
    if len(stem) > 3 and stem[-1] in _UK_VOWELS:
        stem = stem[:-1]
    if len(stem) > 4 and stem.endswith(("ов", "ів", "єв", "ув")) and stem[-3] not in _UK_VOWELS:
        stem = stem[:-2]
    if stem[-1:] in _UK_HARDENED:
        stem = stem[:-1] + _UK_HARDENED[stem[-1]]
    return _UK_CLOSED_I.sub(lambda m: ("є" if m.group(1) == "ї" else "о") + m.group(2), stem)


class _StemCache(dict):
    """folded word -> stem for one language, memoised (PyStemmer alone costs ~1 µs a word)."""

    def __init__(self, stem: Callable[[str], str]):
        super().__init__()
        self._stem = stem

    def __missing__(self, word: str) -> str:
        if len(self) > 500_000:
            self.clear()
        value = self[word] = self._stem(word)
        return value


_STEMMERS: dict[str, _StemCache] = {}


def _stemmer(lang: str) -> _StemCache:
    cache = _STEMMERS.get(lang)
    if cache is None:
        if lang in _SNOWBALL:
            # PyStemmer's own cache off (size 0): `_StemCache` already asks once per word, so
            # that cache would only hold a list per word for the garbage collector to walk
            cache = _StemCache(Stemmer.Stemmer(_SNOWBALL[lang], 0).stemWord)
        elif lang == "uk":
            cache = _StemCache(_uk_stem)
        else:
            cache = _StemCache(str)
        _STEMMERS[lang] = cache
    return cache


def stem_language(lang: str) -> str:
    """The stemming language for a document language tag ('en-GB' -> 'en'; unknown -> '')."""
    base = lang.strip().lower().replace("_", "-").split("-")[0]
    return base if base in STEMMED_LANGUAGES else ""


def stem_all(folded: Sequence[str], lang: str) -> list[str]:
    """Stems of already folded words for a language from `stem_language` ('' = unstemmed)."""
    return list(map(_stemmer(lang).__getitem__, folded))


def stem(folded: str, lang: str) -> str:
    return _stemmer(lang)[folded]


# ---- language detection ------------------------------------------------------------------------

_IDENTIFIER = None


def detect_language(text: str) -> str:
    """Best of the stemmed languages for `text` (py3langid restricted to them), '' if no text.

    Restricting the candidates means a text in another language gets the closest stemmer
    instead of none; query and article are still stemmed alike, so this only changes how
    far inflections are merged.
    """
    global _IDENTIFIER
    sample = text[:400]
    if not WORD_RE.search(sample):
        return ""
    if _IDENTIFIER is None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
        identifier.set_languages(list(STEMMED_LANGUAGES))
        _IDENTIFIER = identifier
    return str(_IDENTIFIER.classify(sample)[0])
