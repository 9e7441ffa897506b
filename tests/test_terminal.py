"""Scraped text printed on a terminal cannot drive it: control characters are shown, not sent."""

from __future__ import annotations

import pytest

from monitor.terminal import printable


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Truce holds in Kursk", "Truce holds in Kursk"),
        ("Перемир'я\tтриває", "Перемир'я\tтриває"),  # tabs and any script stay
        ("Title \x1b]0;pwned\x07 end", "Title \\x1b]0;pwned\\x07 end"),  # retitling the window
        ("a\x1b[2Jb", "a\\x1b[2Jb"),  # clearing the screen
        ("one\ntwo\r\nthree\u2028four", "one two  three four"),  # one record, one line
        ("\u202eevil", "\\u202eevil"),  # a bidi override that reverses the rest of the line
        ("c1 \x9b2J", "c1 \\x9b2J"),  # the 8-bit CSI
    ],
)
def test_printable(text, shown):
    assert printable(text) == shown
