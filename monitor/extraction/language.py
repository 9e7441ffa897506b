"""A cheap language guess for the languages newsmon stems, before asking py3langid.

py3langid's model costs about 100 MiB in every process that loads it (its tokenizer is a large
state table) and a few hundred milliseconds to load. Most texts without a declared language are
in one of the languages newsmon stems (en, de, fr, es, it, pt, ru, uk). In Latin script the most
frequent function words say which one: a language is named only when its function words are a
large share of the text and clearly ahead of every other language's, including common ones
newsmon does not stem (Dutch, Polish, Czech, Romanian, Scandinavian). In Cyrillic, the letters
only Ukrainian (і ї є ґ) or only Russian (ы э ё) uses decide, letters of other Cyrillic alphabets
(Belarusian ў, Serbian ј, Kazakh ә...) veto, and a text with neither is Russian unless it has
Bulgarian's ъ or commonest words. Otherwise the guess is "" and the caller
asks py3langid.
"""

from __future__ import annotations

import re
from collections import Counter

__all__ = ["guess_language"]

_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    lang: frozenset(words.split())
    for lang, words in {
        "en": "the and of to in is that for it was on with as are by this be at from have has an not but "
        "they which were their said will been would after who its he she we or more than",
        "de": "der die das und ist nicht ein eine einen dem den des mit sich auf für auch von zu im wird "
        "wurde werden sind bei nach aus noch wie oder aber hat haben dass sie es er",
        "fr": "le la les et est des du une un dans pour que qui pas sur par au aux avec ce cette sont été "
        "mais ont il elle ne plus se son sa ses leur nous vous être comme",
        "es": "el los las del y que en una por con para es se al lo como más pero sus su fue ha han este "
        "esta entre sobre también muy sin desde está hay ya cuando porque",
        "it": "il di che la le gli della delle dei del e è per non una un con sono nel nella alla anche "
        "più come ma questo questa ha hanno stato essere dal dalla sul sulla tra",
        "pt": "o os as da das do dos que em um uma para com não no na nos nas por mais se foi são ao aos "
        "à é pelo pela também ele ela seu sua entre já quando está isso após às pelos pelas ainda muito",
        # not stemmed by newsmon: here only so that their texts are not mistaken for one that is
        "nl": "de het een van en is dat op te zijn niet met voor ook aan er maar om bij nog wordt door",
        "pl": "się nie że jest w na z do i to jak po od za przez przy tak już tylko być oraz także",
        "cs": "se je že na v a to jako po od za pro jsou byl byla ale také podle který která",
        "ro": "și în de la cu pe că nu este un o care sunt mai din pentru fost lui au fi această",
        "sv": "och att det som en är på för med den av till har inte om ett de var men",
        "da": "og at det som en er på for med den af til har ikke om et de var men",
    }.items()
}
# A word listed for two languages says nothing about which one a text is in: count only the rest.
_LANGUAGE_OF: dict[str, str] = {
    word: lang
    for lang, words in _FUNCTION_WORDS.items()
    for word in words.difference(*(other for name, other in _FUNCTION_WORDS.items() if name != lang))
}
_STEMMED = ("en", "de", "fr", "es", "it", "pt", "ru", "uk")
_RU_LETTERS = frozenset("ыэё")  # Bulgarian, Ukrainian, Belarusian have none of these
_UK_LETTERS = frozenset("іїєґ")
_BULGARIAN = frozenset(["да", "се", "че", "са", "ще", "това", "като", "към", "във", "със"])
_OTHER_CYRILLIC = frozenset("ўјљњћџѓќѕәғқңөұүһ")  # Belarusian, Serbian, Macedonian, Kazakh...
_WORD = re.compile(r"[^\W\d_]+")
MIN_WORDS = 8
MIN_SHARE = 0.08  # distinctive function words of the winner among all words (news prose: 10-30%)
MARGIN = 2.0  # winner's function words / the runner-up's


def _cyrillic(words: list[str]) -> str:
    """Russian or Ukrainian by the letters only one of them uses, else ""."""
    letters = "".join(words)
    if not _OTHER_CYRILLIC.isdisjoint(letters):
        return ""
    ru = sum(ch in _RU_LETTERS for ch in letters)
    uk = sum(ch in _UK_LETTERS for ch in letters)
    if not uk and (ru or ("ъ" not in letters and _BULGARIAN.isdisjoint(words))):
        return "ru"  # Russian, or a Bulgarian text without its ъ and its commonest words
    if uk and not ru and "ъ" not in letters:  # ъ: Bulgarian (or Russian)
        return "uk"
    return ""


def guess_language(text: str) -> str:
    """One of en, de, fr, es, it, pt, ru, uk when the text plainly is that language, else ""."""
    words = _WORD.findall(text[:6000].lower())[:800]
    if len(words) < MIN_WORDS:
        return ""
    cyrillic = sum("\u0400" <= word[0] <= "\u04ff" for word in words)
    if cyrillic * 2 > len(words):
        return _cyrillic(words)
    ranked = Counter(_LANGUAGE_OF[w] for w in words if w in _LANGUAGE_OF).most_common(2)
    if not ranked:
        return ""
    best, hits = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0
    if best not in _STEMMED or hits < MIN_SHARE * len(words):
        return ""
    return best if hits >= MARGIN * runner_up else ""
