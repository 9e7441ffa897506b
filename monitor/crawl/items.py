"""What the spider hands the pipeline: the entries that led to one page, and the page."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.ingest import FetchedPage
from monitor.models import FeedEntry


@dataclass
class ArticleItem:
    entries: list[FeedEntry]  # one or more (the same article in several feeds)
    page: FetchedPage
