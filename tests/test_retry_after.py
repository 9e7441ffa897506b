"""Retry-After as a server sends it: seconds or an HTTP date, capped at a day; unreadable = none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from scrapy.http import Response

from monitor.crawl.middleware import MAX_RETRY_AFTER, retry_after

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "header", "expected"),
    [
        (429, b"120", NOW + timedelta(seconds=120)),
        (503, b"Mon, 30 Nov 2026 13:00:00 GMT", NOW + timedelta(hours=1)),
        (429, b"Mon, 30 Nov 2026 08:00:00 -0500", NOW + timedelta(hours=1)),
        (200, b"120", None),  # only 429 and 503 carry a wait
        (429, b"", None),
        (429, b"soon", None),
        (429, b"-5", None),
        # a typo or a hostile server cannot park a feed for longer than a day (these raised before)
        (429, b"99999999999999999999", NOW + MAX_RETRY_AFTER),
        (429, b"9" * 5000, NOW + MAX_RETRY_AFTER),  # more digits than int() parses
        (503, b"Fri, 31 Dec 9999 23:59:59 GMT", NOW + MAX_RETRY_AFTER),
        (429, b"\xb2", None),  # a superscript two: a digit to str.isdigit, not to int()
    ],
)
def test_retry_after(status, header, expected):
    response = Response("https://n.example/feed.xml", status=status, headers={"Retry-After": header})
    assert retry_after(response, now=NOW) == expected
