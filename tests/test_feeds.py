"""Real-world feeds parse into entries with absolute links, or fail with a clear FeedError."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import shared_or_skip

from monitor.feeds import FeedError, html_to_text, parse_feed

DATA = Path(__file__).parent / "data" / "feeds"

# file -> (entries, a title fragment that only decodes right with the right charset)
EXPECTED = {
    "bbc_news_2024.xml": (53, "Suspended Labour councillor"),
    "golem_de_2018_iso8859-1.xml": (40, "Hinweise auf PC-Umsetzung"),
    "lecerclepsy_fr_no_decl_iso8859-1.xml": (9, "Perturbateurs endocriniens : quels effets sur le cerveau"),
    "heise_de_rss091_rdf.xml": (60, "Vorsichtsmaßnahmen"),
    "heise_developer_atom.xml": (15, "Java-Anwendungsserver"),
    "science_mag_rss10.xml": (69, "Food for fungi"),
    "pravda_com_ua_windows-1251.xml": (20, "День сердца"),
    "neverwinter_relative_links.xml": (2, "Neverwinter"),
    "guardian_world_2022_no_decl.xml": (54, "Saudi foreign minister"),
    "oren_ru_windows-1251_yandex.xml.gz": (10, "В Бузулуке"),
    "suspilne_ukrnet_2023.xml": (19, "Торгівля між Росією та Китаєм"),
    "tjrs_jus_br_rss091_iso8859-1.xml": (1, "Comitê completa"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_feed_parses(name):
    count, title = EXPECTED[name]
    parsed = parse_feed((DATA / name).read_bytes(), f"https://feeds.example.org/{name}", "f")
    assert len(parsed.entries) == count
    assert any(title in e.title for e in parsed.entries)
    assert all(e.link.startswith(("http://", "https://")) for e in parsed.entries)
    assert len({e.key for e in parsed.entries}) == count


def test_relative_links_resolve_against_the_feed_url():
    parsed = parse_feed(
        (DATA / "neverwinter_relative_links.xml").read_bytes(), "https://games.example/rss", "n"
    )
    assert all(e.link.startswith("https://games.example/") for e in parsed.entries)


def test_truncated_feed_is_a_clear_error():
    with pytest.raises(FeedError) as caught:
        parse_feed((DATA / "reuters_mostread_invalid.xml").read_bytes(), "https://x.example/rss", "r")
    assert str(caught.value) == "no entries could be read: the feed ends early at line 19: no element found"


# What a user who gave a wrong URL reads, in plain words (it was the XML parser's, e.g.
# "not a feed (SAXParseException: <unknown>:3:186: mismatched tag)")
NOT_A_FEED = {
    "an article page": (
        (Path(__file__).parent / "data" / "pages" / "harbour_ferry.html").read_bytes(),
        "text/html; charset=utf-8",
        "the URL serves an HTML page, not a feed: look for the page's RSS or Atom link and give that URL",
    ),
    "a home page that names its feeds": (
        b"<!DOCTYPE html>\n<html><head><title>News</title>"
        b'<link rel="alternate" type="application/rss+xml" title="RSS" href="/world/rss.xml">'
        b'<link rel="alternate" type="application/atom+xml" href="https://x.example/all.atom">'
        b"</head><body><p>Top stories<br></body></html>",
        "",  # no content type: told by its first bytes
        "the URL serves an HTML page, not a feed: look for the page's RSS or Atom link and give that URL"
        " (the page names https://x.example/world/rss.xml and 1 more)",
    ),
    "JSON": (
        b'{"items": []}',
        "application/json",
        "not a feed: the document is malformed at line 1: not well-formed (invalid token)",
    ),
    "XML of another kind": (
        b'<?xml version="1.0"?>\n<sitemap><loc>https://x.example/</loc></sitemap>',
        "application/xml",
        "not a feed: no RSS, RDF or Atom root element",
    ),
    "nothing": (b"\n", "application/rss+xml", "not a feed: the document is empty"),
}


@pytest.mark.parametrize("case", sorted(NOT_A_FEED))
def test_not_a_feed_says_what_it_is_in_plain_words(case):
    body, content_type, message = NOT_A_FEED[case]
    with pytest.raises(FeedError) as caught:
        parse_feed(body, "https://x.example/news/today.html", "x", content_type)
    assert str(caught.value) == message


def test_markup_a_feed_recovered_from_is_told_by_its_line():
    """The line is the document's own: feedparser puts an XML declaration on a line before a
    document without one, so the XML parser's count is one ahead there."""
    guardian = parse_feed(
        (DATA / "guardian_world_2022_no_decl.xml").read_bytes(), "https://g.example/rss", "g"
    )
    assert guardian.warning == "line 34: not well-formed (invalid token)"
    assert b"&quality" in (DATA / "guardian_world_2022_no_decl.xml").read_bytes().split(b"\n")[33]
    cut = b'<?xml version="1.0"?>\n<rss version="2.0"><channel>\n<item><title>A</title><link>http://x.example/a</link>'
    parsed = parse_feed(cut, "http://x.example/feed.xml", "f", "application/rss+xml")
    assert (parsed.warning, parsed.complete) == ("line 3: no element found", False)


@pytest.mark.parametrize(
    "body", [b"<html><body><p>Service unavailable</p></body></html>", b"", b"\x1f\x8b\x08broken-gzip"]
)
def test_not_a_feed_is_a_clear_error(body):
    with pytest.raises(FeedError):
        parse_feed(body, "https://x.example/rss", "x", "text/html")


def test_entry_dates_are_utc_and_text_is_plain():
    parsed = parse_feed((DATA / "bbc_news_2024.xml").read_bytes(), "https://feeds.example.org/bbc", "bbc")
    entry = parsed.entries[0]
    assert entry.published is not None and entry.published.utcoffset().total_seconds() == 0
    assert "<" not in entry.summary


def test_html_to_text_keeps_paragraphs():
    assert html_to_text("<p>One &amp; two</p><p>Three<br/>four</p>") == "One & two\n\nThree\nfour"


def test_every_shared_corpus_feed_parses_or_fails_clearly():
    folder = shared_or_skip("corpus", "feeds")
    parsed = failed = 0
    for path in sorted(folder.iterdir()):
        if path.suffix in (".md", ".tsv"):
            continue
        try:
            feed = parse_feed(path.read_bytes(), f"https://feeds.example.org/{path.name}", path.stem)
            assert feed.entries, path.name
            parsed += 1
        except FeedError as exc:
            assert str(exc), path.name
            failed += 1
    assert parsed >= 55 and failed <= 1


def _rss(item: bytes) -> bytes:
    """A feed with one item under test and one ordinary item after it."""
    return (
        b'<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/" '
        b'xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0"><channel><title>T</title>'
        b"<link>http://x.example/</link>" + item + b"<item><title>Fine</title>"
        b"<link>http://x.example/fine</link></item></channel></rss>"
    )


# Malformed items found by fuzzing (each reduced to its cause). One bad field costs that field, or
# that entry: never the feed. Each raised out of parse_feed before, or (the port) kept a link on
# which the crawl's canonical URL raised, so that none of the feed's articles was followed.
DAMAGED_ITEMS = {
    "charref to a lone surrogate": (
        b"<item><title>Talks &#xD800; resume</title><link>http://x.example/a</link></item>",
        [("Talks \ufffd resume", "http://x.example/a"), ("Fine", "http://x.example/fine")],
    ),
    "charref beyond U+10FFFF": (
        b"<item><title>Talks &#1114112; resume</title><link>http://x.example/a</link></item>",
        [("Talks \ufffd resume", "http://x.example/a"), ("Fine", "http://x.example/fine")],
    ),
    "charref of 5,000 digits": (
        b"<item><title>Talks &#" + b"9" * 5000 + b"; resume</title><link>http://x.example/a</link></item>",
        [("Talks \ufffd resume", "http://x.example/a"), ("Fine", "http://x.example/fine")],
    ),
    "date feedparser reads as year -1": (
        b"<item><title>A</title><link>http://x.example/a</link><pubDate>0000-00</pubDate></item>",
        [("A", "http://x.example/a"), ("Fine", "http://x.example/fine")],
    ),
    "broken FeedBurner link beside a good one": (
        b"<item><title>A</title><link>http://x.example/a</link><feedburner:origLink>//]</feedburner:origLink></item>",
        [("A", "http://x.example/a"), ("Fine", "http://x.example/fine")],
    ),
    "link with a port that is no number": (
        b"<item><title>A</title><link>http://x.example:abc/a</link></item>",
        [("Fine", "http://x.example/fine")],
    ),
    "link with a user name and password": (
        b"<item><title>A</title><link>http://user:secret@x.example/a</link></item>",
        [("Fine", "http://x.example/fine")],
    ),
    "no link, and a guid with a broken IPv6 host": (
        b'<item><title>A</title><guid isPermaLink="false">http://[::1/a</guid></item>',
        [("Fine", "http://x.example/fine")],
    ),
}


@pytest.mark.parametrize("case", sorted(DAMAGED_ITEMS))
def test_a_damaged_item_costs_only_itself(case):
    item, expected = DAMAGED_ITEMS[case]
    parsed = parse_feed(_rss(item), "http://x.example/feed.xml", "f", "application/rss+xml")
    assert [(e.title, e.link) for e in parsed.entries] == expected
    assert all(e.published is None for e in parsed.entries)


# Malformed documents on which feedparser itself raises (found by fuzzing): a FeedError that
# says so, so the crawl records the feed as failing instead of losing the error.
PARSER_FAILURES = {
    "stray </media:credit>": _rss(b"<item><media:credit</item>n</media:credit>"),
    "stray </category>": _rss(b"<item><category</item>n</category>"),
    "stray </height> in the image": _rss(b"<image><url>http://x.example/i.png</url></height></image>"),
    "undecodable encoding name": b'<?xml version="1.0" encoding="\xa4"?>' + _rss(b"")[21:],
}


@pytest.mark.parametrize("case", sorted(PARSER_FAILURES))
def test_a_document_that_breaks_the_parser_is_a_clear_error(case):
    with pytest.raises(FeedError, match=r"^the feed parser failed on this document \(\w+Error: "):
        parse_feed(PARSER_FAILURES[case], "http://x.example/feed.xml", "f", "application/rss+xml")


def _many_items(n: int) -> bytes:
    items = b"".join(
        b"<item><title>Story %d</title><link>http://x.example/%d</link></item>" % (i, i) for i in range(n)
    )
    return b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>' + items + b"</channel></rss>"


def test_a_gzip_file_that_unpacks_beyond_the_page_limit_is_refused():
    import gzip

    bomb = gzip.compress(_many_items(2) + b" " * 5_000_000)  # ~5 kB that unpack to 5 MB
    assert len(bomb) < 10_000
    with pytest.raises(
        FeedError, match=r"larger than crawl.max_page_size \(1000000 bytes\) once decompressed"
    ):
        parse_feed(bomb, "http://x.example/feed.xml.gz", "f", "application/x-gzip", max_bytes=1_000_000)
    assert len(parse_feed(bomb, "http://x.example/feed.xml.gz", "f", "application/x-gzip").entries) == 2
    with pytest.raises(FeedError, match="cut short"):
        parse_feed(gzip.compress(_many_items(20))[:-40], "http://x.example/feed.xml.gz", "f")


def test_a_document_cut_short_is_read_but_marked_incomplete():
    whole = _many_items(20)
    cut = parse_feed(whole[: len(whole) // 2], "http://x.example/feed.xml", "f", "application/rss+xml")
    assert 0 < len(cut.entries) < 20 and not cut.complete
    assert parse_feed(whole, "http://x.example/feed.xml", "f", "application/rss+xml").complete
    # broken markup that does not end the document early: read whole, so complete
    entity = whole.replace(b"Story 3<", b"Story &nbsp; 3<")
    parsed = parse_feed(entity, "http://x.example/feed.xml", "f", "application/rss+xml")
    assert parsed.warning and parsed.complete and len(parsed.entries) == 20


@pytest.mark.parametrize(
    ("content_type", "declaration"),
    [("application/rss+xml; charset=windows-1251", b""), ("application/rss+xml", b' encoding="koi8-r"')],
)
def test_a_utf8_feed_labelled_with_a_single_byte_charset_is_read_as_utf8(content_type, declaration):
    title = "Переговоры о перемирии"
    body = (
        b'<?xml version="1.0"' + declaration + b'?><rss version="2.0"><channel><title>T</title>'
        b"<item><title>" + title.encode() + b"</title><link>http://x.example/a</link></item></channel></rss>"
    )
    assert parse_feed(body, "http://x.example/feed.xml", "f", content_type).entries[0].title == title
    cp1251 = body.replace(title.encode(), title.encode("cp1251")).replace(b"koi8-r", b"windows-1251")
    assert parse_feed(cp1251, "http://x.example/feed.xml", "f", content_type).entries[0].title == title


def test_a_guid_given_to_entries_with_other_links_does_not_hide_them():
    items = (
        b"<item><title>One</title><link>http://x.example/1</link><guid>http://x.example/</guid></item>"
        b"<item><title>Two</title><link>http://x.example/2?utm_source=rss</link><guid>http://x.example/</guid></item>"
        b"<item><title>Dup</title><link>http://x.example/3</link><guid>g3</guid></item>"
        b"<item><title>Dup again</title><link>http://x.example/3?utm_medium=x</link><guid>g3</guid></item>"
        b"<item><title>No link</title><description>Only text.</description></item>"
    )
    parsed = parse_feed(_rss(items), "http://x.example/feed.xml", "f", "application/rss+xml")
    keys = [(e.title, e.key) for e in parsed.entries]
    assert keys == [
        ("One", "http://x.example/1"),
        ("Two", "http://x.example/2?utm_source=rss"),
        ("Dup", "http://x.example/g3"),  # the same article twice under one guid: one entry
        ("Fine", "http://x.example/fine"),
    ]
    assert parsed.without_link == 1


# The text newsmon keeps of an entry whose article page fails for good (a 404, a paywall's 403):
# feed -> (title fragment, start of the text kept, a text of the entry's (a caption) it must not hold)
KEPT_TEXT: dict[str, tuple[str, str, str | None]] = {
    "nyt_world_2024_media.xml": (  # RSS: <description>, then <media:description>, the photo's caption
        "Ukraine Advances on Russian Region of Kursk",
        "The local government in the Russian region of Kursk declared a state of emergency",
        "A photo provided by the acting Governor of Kursk region",
    ),
    "lemonde_international_2024_media.xml": (  # <media:description type="plain"> in <media:content>
        "Les soldats de Louis XVI",
        "Deux chercheurs américains ont montré",
        "George Washington, portrait en pied",
    ),
    "elpais_portada_2020_encoded.xml": (  # content:encoded is the full text; a caption beside it
        "Giuseppe Conte",
        "Giuseppe Conte (Volturara Appula, 55 años) tiene como foto de perfil",
        "El primer ministro de Italia, Giuseppe Conte.",
    ),
    "tpm_all_news_text.atom": (  # Atom <content type="text">, after a summary and a caption
        "Hannity Announces Fox",
        "Fox News star host Sean Hannity on Wednesday announced",
        "Sebastian Gorka at the White House in August 2017.",
    ),
    "tpm_all_news_html.atom": ("Hannity Announces Fox", "Fox News star host Sean Hannity on Wednesday", None),
    # a <description> that is only a "Leer" link: the lead in <media:description> is the text
    "elmundo_2020_leer.xml": ("Bildu reclama Pamplona", "EH Bildu ratificó este viernes", "Leer"),
}


@pytest.mark.parametrize("name", sorted(KEPT_TEXT))
def test_the_text_kept_when_the_page_fails_is_the_entrys_never_a_media_caption(name):
    from monitor.ingest import build_article
    from monitor.models import FetchedPage

    title, kept, caption = KEPT_TEXT[name]
    parsed = parse_feed((DATA / name).read_bytes(), f"https://feeds.example.org/{name}", "f")
    entry = next(e for e in parsed.entries if title in e.title)
    article = build_article(entry, FetchedPage(url=entry.link, status=404, error="HTTP 404"))
    assert article.source == "feed"
    assert article.text.startswith(kept), article.text
    if caption:
        assert caption not in article.text
        assert caption not in entry.summary and caption not in entry.content


def test_no_nyt_entry_keeps_its_photo_caption():
    parsed = parse_feed((DATA / "nyt_world_2024_media.xml").read_bytes(), "https://nyt.example/rss", "nyt")
    texts = {e.title: (e.summary, e.content) for e in parsed.entries}
    assert texts["Olympic Medals Offer Ukraine a Brief Respite From War"] == (
        "Ukraine has won 10 medals so far at the Paris Olympics. Each has been celebrated in the"
        " war-torn country as a symbol of resilience and defiance.",
        "",
    )
    assert all(content == "" for _, content in texts.values())


_MEDIA = (
    b'xmlns:media="http://search.yahoo.com/mrss/" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
)
_ITEM = b"<item><title>T</title><link>http://x.example/a</link>%s</item>"
_CAPTION = b"<media:description>A photo of the harbour at dawn.</media:description>"
_DESC = b"<description>Ferries resume.</description>"

# Wherever the caption stands, feedparser read it as one more description: it became the content
# after <description>, the summary after content:encoded, the summary before <description>.
CAPTION_PLACES = {
    "after the description": (_DESC + _CAPTION, "Ferries resume.", ""),
    "before the description": (_CAPTION + _DESC, "Ferries resume.", ""),
    "after content:encoded": (
        _DESC + b"<content:encoded>&lt;p&gt;Full story.&lt;/p&gt;</content:encoded>" + _CAPTION,
        "Ferries resume.",
        "Full story.",
    ),
    "in media:content, as html": (
        _DESC + b'<media:content url="http://x.example/a.jpg">'
        b'<media:description type="html">&lt;b&gt;A photo&lt;/b&gt;</media:description></media:content>',
        "Ferries resume.",
        "",
    ),
    "the only text (a video feed)": (_CAPTION, "A photo of the harbour at dawn.", ""),
}


@pytest.mark.parametrize("case", sorted(CAPTION_PLACES))
@pytest.mark.parametrize("strict", [True, False], ids=["well-formed", "recovered"])
def test_a_media_caption_is_never_the_entrys_content(case, strict):
    item, summary, content = CAPTION_PLACES[case]
    channel = b"<channel><title>F</title>" + _ITEM % item + b"</channel>"
    body = b'<rss version="2.0" ' + _MEDIA + b">" + channel + b"</rss>"
    if not strict:  # feedparser's own recovering parser, which reads broken feeds
        body = body.replace(b"<title>F</title>", b"<title>F &nbsp;</title>")
    parsed = parse_feed(body, "http://x.example/feed.xml", "f", "application/rss+xml")
    assert bool(parsed.warning) is not strict
    assert [(e.summary, e.content) for e in parsed.entries] == [(summary, content)]


def test_an_atom_entrys_media_caption_is_not_its_content():
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom" ' + _MEDIA + b"><title>F</title><entry><title>T</title>"
        b'<link href="http://x.example/a"/><summary>Ferries resume.</summary>' + _CAPTION + b"</entry></feed>"
    )
    [entry] = parse_feed(body, "http://x.example/feed.atom", "f", "application/atom+xml").entries
    assert (entry.summary, entry.content) == ("Ferries resume.", "")
