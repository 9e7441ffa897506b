"""What the spider hands the pipeline: the entries that led to one page, and the page."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.models import FeedEntry, FetchedPage


@dataclass(repr=False)
class ArticleItem:
    canonical: str  # the URL the article is expected under (it may change to rel=canonical)
    entries: list[FeedEntry]  # the entries that led here so far (more may come: see the pipeline)
    page: FetchedPage

    def __repr__(self) -> str:  # Scrapy logs items: never the whole page
        size = len(self.page.body) if self.page.body is not None else 0
        page = self.page
        return f"<ArticleItem {page.url} status={page.status} bytes={size} entries={len(self.entries)}>"
