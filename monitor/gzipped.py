"""Gzip data unpacked with a ceiling: a few kilobytes of it can unpack to gigabytes.

For what arrives gzip-compressed without a Content-Encoding header (Scrapy decodes and limits
that): a feed served as a .gz file, a saved page given to `newsmon extract`.
"""

from __future__ import annotations

import zlib


class GzipError(ValueError):
    """Why the data could not be unpacked; `too_large` when only the ceiling stopped it."""

    def __init__(self, message: str, *, too_large: bool = False):
        super().__init__(message)
        self.too_large = too_large


def gunzip(body: bytes, max_bytes: int) -> bytes:
    """`body` unpacked, if it is whole gzip data of at most `max_bytes` once unpacked."""
    unpack = zlib.decompressobj(wbits=31)
    try:
        out = unpack.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise GzipError(f"broken gzip data ({exc})") from None
    if len(out) > max_bytes:
        raise GzipError(f"larger than {max_bytes} bytes once unpacked", too_large=True)
    if not unpack.eof:
        raise GzipError("gzip data cut short")
    return out
