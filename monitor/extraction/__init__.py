"""Clean article extraction: page bytes (+ the feed entry) -> ``ExtractedArticle``.

Pure: no network, no storage, no Scrapy. ``encoding`` decodes, ``metadata`` reads what the page says
about itself, ``body`` picks the article text by extractor agreement, ``cleanup`` drops boilerplate
lines, ``language`` guesses a language the page does not declare, ``extract`` ties them together.
"""

from .encoding import decode_html
from .extract import ExtractionError, compile_selectors, detect_language, extract_article

__all__ = [
    "ExtractionError",
    "compile_selectors",
    "decode_html",
    "detect_language",
    "extract_article",
]
