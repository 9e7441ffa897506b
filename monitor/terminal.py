"""Scraped text on a terminal: what a site wrote must not become what the terminal does.

Titles, snippets, server replies and error messages come from pages and servers newsmon does
not control; an escape sequence among them could rewrite the screen, retitle the window or
hide lines. Control characters are shown as escapes instead, and line breaks as a space, so
each printed record stays on its line.
"""

from __future__ import annotations

import re

# C0 controls but tab, DEL, C1 controls, and the Unicode line/paragraph separators and bidi
# overrides that change how the rest of a line reads
_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match[str]) -> str:
    ch = m.group()
    return (
        " "
        if ch in "\n\r\u2028\u2029\x85"
        else f"\\x{ord(ch):02x}"
        if ord(ch) < 0x100
        else f"\\u{ord(ch):04x}"
    )


def printable(text: str) -> str:
    """`text` safe to print on one terminal line."""
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text
