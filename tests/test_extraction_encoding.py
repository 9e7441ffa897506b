"""decode_html: header, BOM, <meta>, detection — and a lying declaration falls through."""

from __future__ import annotations

import codecs

import pytest

from monitor.extraction import decode_html, extract_article

TEXTS = {
    "windows-1251": (
        "ru",
        "Переговоры о прекращении огня продолжились в понедельник. Делегации обсудили обмен пленными, "
        "гуманитарные коридоры и восстановление энергетики. Следующая встреча назначена на пятницу.",
    ),
    "koi8-r": (
        "ru",
        "Правительство утвердило новый бюджет на следующий год. Расходы на образование и медицину выросли, "
        "а дефицит должен сократиться вдвое к концу года, заявил министр финансов.",
    ),
    "iso-8859-1": (
        "fr",
        "Le conseil municipal a voté la rénovation du marché couvert. Les élèves du lycée voisin ont "
        "présenté leurs idées pour la façade, et les travaux débuteront après l'été, a précisé le maire.",
    ),
    "shift_jis": (
        "ja",
        "東京都は新しい防災計画を発表した。地震や台風に備えて、避難所の数を増やし、食料の備蓄も強化する。"
        "知事は記者会見で、住民の協力を呼びかけた。計画は来年の春から実施される予定だ。",
    ),
}


def _page(text: str, meta: str = "") -> str:
    head = f"<!DOCTYPE html><html><head>{meta}<title>t</title></head>"
    return f"{head}<body><article><p>{text}</p></article></body></html>"


@pytest.mark.parametrize("charset", sorted(TEXTS))
@pytest.mark.parametrize("declared", ["header", "meta", "http-equiv", "nothing"])
def test_legacy_charsets_decode(charset: str, declared: str) -> None:
    _, text = TEXTS[charset]
    meta = {
        "meta": f'<meta charset="{charset}">',
        "http-equiv": f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">',
    }.get(declared, "")
    body = _page(text, meta).encode(charset)
    header = f"text/html; charset={charset}" if declared == "header" else None
    assert text in decode_html(body, header)


@pytest.mark.parametrize("bom", ["utf-8", "utf-16-le", "utf-16-be"])
def test_bom_decides_without_declaration(bom: str) -> None:
    _, text = TEXTS["windows-1251"]
    marks = {"utf-8": codecs.BOM_UTF8, "utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}
    body = marks[bom] + _page(text).encode(bom)
    out = decode_html(body)
    assert text in out
    assert not out.startswith("\ufeff")


def test_header_beats_meta() -> None:
    _, text = TEXTS["koi8-r"]
    body = _page(text, '<meta charset="windows-1251">').encode("koi8-r")
    assert text in decode_html(body, "text/html; charset=KOI8-R")


def test_header_that_lies_falls_through_to_meta() -> None:
    _, text = TEXTS["shift_jis"]
    body = _page(text, '<meta charset="Shift_JIS">').encode("shift_jis")
    assert text in decode_html(body, "text/html; charset=utf-8")


def test_latin1_label_reads_as_windows_1252() -> None:
    body = _page("It’s a “quoted” word").encode("cp1252")
    assert "It’s a “quoted” word" in decode_html(body, "text/html; charset=ISO-8859-1")


@pytest.mark.parametrize("charset", sorted(TEXTS))
def test_extract_article_from_bytes_with_meta_only(charset: str) -> None:
    lang, text = TEXTS[charset]
    body = _page(text, f'<meta charset="{charset}">').encode(charset)
    art = extract_article(body, "https://example.test/a")
    assert text[:20] in art.text
    assert art.language == lang  # nothing declared: detected from the text


@pytest.mark.parametrize("label", ["windows-1251", "koi8-r", "iso-8859-5"])
def test_utf8_labelled_with_a_single_byte_charset_is_read_as_utf8(label):
    """Any byte string decodes with a single-byte charset, so the label alone would give mojibake."""
    text = TEXTS["windows-1251"][1]
    body = _page(text).encode("utf-8")
    assert text in decode_html(body, f"text/html; charset={label}")
    assert text in decode_html(_page(text, f'<meta charset="{label}">').encode("utf-8"))
    # and a page really in that charset is still read with it
    assert text in decode_html(_page(text).encode(label), f"text/html; charset={label}")


def test_a_utf16_label_on_ascii_readable_bytes_is_ignored():
    body = _page("Talks resume on Monday.").encode("ascii")
    body += b" " * (len(body) % 2)  # an even length, which UTF-16 decodes without an error
    assert "Talks resume on Monday." in decode_html(body, "text/html; charset=utf-16")


def test_a_stray_nul_byte_does_not_make_a_page_binary():
    text = TEXTS["iso-8859-1"][1]
    page = _page(text.replace("conseil", "con\x00seil", 1) + "</p><p>" + text).encode("utf-8")
    article = extract_article(page, "https://news.example.org/a", content_type="text/html")
    assert "Le conseil municipal" in article.text
