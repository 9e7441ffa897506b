"""Honour Retry-After: a 429/503 that names a wait is not retried at once, it is backed off."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta

from scrapy.http import Request, Response


def retry_after(response: Response, now: datetime | None = None) -> datetime | None:
    """When the server asks us to come back (seconds or an HTTP date), or None."""
    if response.status not in (429, 503):
        return None
    raw = (response.headers.get(b"Retry-After") or b"").decode("latin-1").strip()
    now = now or datetime.now(UTC)
    if not raw:
        return None
    if raw.isdigit():
        return now + timedelta(seconds=int(raw))
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class RetryAfterMiddleware:
    """Runs before Scrapy's RetryMiddleware (priority 560 > 550) and stops its immediate retry."""

    def process_response(self, request: Request, response: Response, spider=None) -> Response:
        when = retry_after(response)
        if when is not None:
            request.meta["dont_retry"] = True
            request.meta["retry_after"] = when
        return response
