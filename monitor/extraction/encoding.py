"""Bytes -> text for HTML pages whose charset may be declared wrongly, twice, or not at all.

Trust order: the HTTP header, a byte-order mark, the document's own ``<meta>`` declaration, then
statistical detection. A declaration is only trusted when the bytes actually decode with it, so a
server that labels a windows-1251 page as UTF-8 still gives readable text.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

__all__ = ["declared_charset", "decode_html", "normalize_charset", "utf8_despite", "xml_declared_charset"]

# Labels that browsers (WHATWG Encoding Standard) read as a wider superset: decoding with the
# narrow codec would turn curly quotes and the like into mojibake or errors.
_SUPERSETS = {
    "iso-8859-1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "shift_jis": "cp932",
    "euc-kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "big5": "big5hkscs",
}

_WIDER = {codecs.lookup(narrow).name: wide for narrow, wide in _SUPERSETS.items()}

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.I)
_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([\w.:-]+)""", re.I)
_META_SCAN_BYTES = 8192


def normalize_charset(label: str | None) -> str | None:
    """Python codec name for a charset label, widened as browsers do; None when unknown."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    return _WIDER.get(name, name)


def declared_charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, if any (as given, not normalized)."""
    if not content_type:
        return None
    m = _HEADER_CHARSET.search(content_type)
    return m.group(1) if m else None


def _bom(body: bytes) -> tuple[str, int] | None:
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name, len(bom)
    return None


def xml_declared_charset(body: bytes) -> str | None:
    """The encoding an XML declaration at the start of `body` names, if any."""
    m = _XML_DECL.search(body[:_META_SCAN_BYTES])
    return m.group(1).decode("ascii", "replace") if m else None


def _meta_charset(body: bytes) -> str | None:
    head = body[:_META_SCAN_BYTES]
    m = _XML_DECL.search(head) or _META_CHARSET.search(head)
    return m.group(1).decode("ascii", "replace") if m else None


# Codecs that give a character for (nearly) every byte, so "the bytes decode with it" proves
# nothing: UTF-8 labelled windows-1251 decodes, as mojibake
_SINGLE_BYTE = re.compile(r"^(?:cp12\d\d|cp8\d\d|iso8859-\d+|koi8-\w|mac-[\w-]+|latin-1|tis-620)$")


def utf8_despite(body: bytes, codec: str | None) -> bool:
    """Whether a body labelled with single-byte `codec` is really UTF-8: it has non-ASCII bytes
    and they are all valid UTF-8, which text in a single-byte charset practically never is
    (a letter there is one byte >= 0x80, which UTF-8 allows only in fixed sequences)."""
    if not codec or not _SINGLE_BYTE.match(codec) or body.isascii():
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _try(body: bytes, codec: str | None) -> str | None:
    if not codec:
        return None
    try:
        return body.decode(codec)
    except UnicodeDecodeError:
        return None


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Decode an HTML response body, falling through to the next source when one lies."""
    bom = _bom(body)
    header = normalize_charset(declared_charset(content_type))
    if utf8_despite(body, header):
        header = "utf-8"
    if header and header.startswith(("utf-16", "utf-32")) and not bom and _ascii_readable(body):
        header = None  # a UTF-16 label on bytes that read as ASCII markup is a wrong label
    if header and not (bom and header.startswith("utf-16")):
        # A UTF-16 header without BOM would need the byte order; let the BOM decide then.
        text = _try(body[len(codecs.BOM_UTF8) :] if bom and bom[0] == "utf-8" else body, header)
        if text is not None:
            return text.lstrip("\ufeff")
    if bom:
        text = _try(body[bom[1] :], bom[0])
        if text is not None:
            return text
    meta = normalize_charset(_meta_charset(body))
    if utf8_despite(body, meta):
        meta = "utf-8"
    # A page that says utf-16 in a <meta> is already ASCII-readable, so it cannot be utf-16.
    if meta and not meta.startswith("utf-16") and not meta.startswith("utf-32"):
        text = _try(body, meta)
        if text is not None:
            return text
    return _detect(body, fallback=meta or header)


def _ascii_readable(body: bytes) -> bool:
    """The first bytes hold markup readable as ASCII (UTF-16 would put a NUL beside each)."""
    return b"<" in body[:512] and b"\x00" not in body[:512]


def _detect(body: bytes, fallback: str | None) -> str:
    text = _try(body, "utf-8")
    if text is not None:
        return text
    best = charset_normalizer.from_bytes(body).best()
    if best is not None and best.encoding:
        codec = normalize_charset(best.encoding) or best.encoding
        text = _try(body, codec)
        if text is not None:
            return text
    return body.decode(fallback or "cp1252", errors="replace")
