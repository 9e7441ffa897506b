"""The cheap language guess: right on plain texts of the stemmed languages, silent otherwise.

A wrong guess would stem an article with the wrong language and store a wrong language tag, so
the cases that must come back "" (other languages, mixed or too little text) matter as much as
the ones that must be named.
"""

from __future__ import annotations

import pytest

from monitor.extraction import detect_language
from monitor.extraction.language import guess_language
from monitor.ingest import build_article
from monitor.models import FeedEntry, FetchedPage

NAMED = [
    (
        "en",
        "The foreign ministry said on Tuesday that the talks would"
        " resume after a week of debate in the capital.",
    ),
    (
        "de",
        "Die Regierung hat am Dienstag mitgeteilt, dass die"
        " Gespräche nach einer Woche wieder aufgenommen werden.",
    ),
    (
        "fr",
        "Le ministère a indiqué mardi que les négociations"
        " reprendront dans la capitale après une semaine de débat.",
    ),
    (
        "es",
        "El ministerio dijo el martes que las conversaciones se"
        " reanudarán en la capital después de una semana.",
    ),
    (
        "it",
        "Il ministero ha detto martedì che i colloqui riprenderanno"
        " nella capitale dopo una settimana di dibattito.",
    ),
    (
        "pt",
        "O ministério disse na terça-feira que as negociações serão"
        " retomadas na capital após uma semana de debate.",
    ),
    (
        "ru",
        "Министерство иностранных дел заявило во вторник, что"
        " переговоры возобновятся после недели обсуждений.",
    ),
    # no ы, э or ё at all: still Russian (no Ukrainian letters, no Bulgarian ъ or words)
    (
        "ru",
        "Областная администрация отложила железнодорожное сообщение в пятницу, сообщил представитель ООН.",
    ),
    (
        "uk",
        "Міністерство закордонних справ заявило у вівторок, що"
        " переговори відновляться після тижня обговорень.",
    ),
]

UNNAMED = [
    (
        "Polish",
        "Ministerstwo spraw zagranicznych poinformowało we wtorek, że rozmowy zostaną wznowione po tygodniu.",
    ),
    (
        "Dutch",
        "Het ministerie van buitenlandse zaken heeft dinsdag gezegd"
        " dat de gesprekken na een week worden hervat.",
    ),
    (
        "Bulgarian",
        "Министерството на външните работи съобщи във вторник, че"
        " преговорите ще бъдат подновени след седмица.",
    ),
    (
        "Serbian",
        "Министарство спољних послова је у уторак саопштило да ће се преговори наставити након недељу дана.",
    ),
    (
        "Belarusian",
        "Міністэрства замежных спраў заявіла ў аўторак, што перамовы аднавяцца пасля тыдня абмеркаванняў.",
    ),
    ("too short", "Talks resume"),
    ("numbers", "2024 1 2 3 4 5 6 7 8 9 10 11 12"),
]


@pytest.mark.parametrize(("lang", "text"), NAMED, ids=[f"{lang}-{i}" for i, (lang, _) in enumerate(NAMED)])
def test_plain_texts_of_the_stemmed_languages_are_named(lang: str, text: str) -> None:
    assert guess_language(text) == lang


@pytest.mark.parametrize(("what", "text"), UNNAMED, ids=[what for what, _ in UNNAMED])
def test_other_languages_and_scraps_are_left_to_the_model(what: str, text: str) -> None:
    assert guess_language(text) == ""


def test_detect_language_falls_back_to_the_model_when_the_guess_declines() -> None:
    assert detect_language(UNNAMED[0][1]) == "pl"
    assert detect_language(NAMED[0][1]) == "en"


def test_a_feed_only_article_gets_the_language_of_its_text() -> None:
    """An entry the crawler could not fetch keeps its feed text; with no language in the feed,
    the article still carries one, so matching stems it like the same article fetched."""
    entry = FeedEntry(
        feed="news", key="k", link="https://example.org/a", title="Переговоры", summary=NAMED[6][1]
    )
    article = build_article(entry, FetchedPage(url=entry.link, error="disallowed by robots.txt"))
    assert article.source == "feed"
    assert article.language == "ru"
    declared = FeedEntry(feed="news", key="k", link=entry.link, summary=NAMED[6][1], language="uk-UA")
    assert build_article(declared, FetchedPage(url=entry.link, error="x")).language == "uk"
