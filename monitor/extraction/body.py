"""The article body of a parsed page, chosen by agreement between extractors.

Measured on the AEB corpus (see ``bench/extraction.py``): trafilatura in precision mode is the cleanest
single extractor when it finds the article, but on some layouts it drops or adds whole blocks. So two
cheap trafilatura passes run (``favor_precision``, then plain ``fast``); when they agree the precise
one wins, and only when they disagree readability-lxml is asked too and the candidate that agrees
most with the others (the medoid) is kept. Disagreement is rare, so the slow third extractor runs on
a few pages only; and where the precise text holds much of the page's words (``SURE_SHARE``), the
passes have always agreed, so the second one is skipped.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from copy import deepcopy
from functools import cache

import trafilatura
from lxml.etree import ParserError
from lxml.html import HtmlElement, fragment_fromstring
from trafilatura.settings import Extractor

__all__ = ["agreement", "extract_body", "html_to_text", "shingles"]

log = logging.getLogger(__name__)

MIN_LAST_RESORT_WORDS = 25
AGREE = 0.8  # fast/precise F1 above which readability is not consulted (chosen on the tuning split)
# On the tuning split, every page where the passes disagreed had a precise text of under 4% of the
# page's words (0-3.7%); above twice that the precise text is returned without the fast pass, which
# halves the extraction time of most pages. Held out: 33 of 57 pages skip it, none disagreeing.
SURE_SHARE = 0.08

_WORD = re.compile(r"\w+")
_BLOCKS = frozenset(
    [
        "p",
        "div",
        "br",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "ul",
        "ol",
        "tr",
        "table",
        "blockquote",
        "pre",
        "section",
        "article",
        "figcaption",
        "dd",
        "dt",
        "header",
        "footer",
        "aside",
        "hr",
    ]
)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    """Multiset of word n-grams, the unit in which two texts are compared."""
    tokens = _WORD.findall(text)
    if len(tokens) < n:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(zip(*(tokens[i:] for i in range(n)), strict=False))  # the n-grams, built in C


def agreement(a: Counter[tuple[str, ...]], b: Counter[tuple[str, ...]]) -> float:
    """F1 overlap of two shingle multisets: 1.0 identical, 0.0 nothing shared."""
    common = sum((a & b).values())
    if not common:
        return 0.0
    return 2 * common / (sum(a.values()) + sum(b.values()))


@cache
def _options(fast: bool, precision: bool, recall: bool) -> Extractor:
    """One trafilatura Extractor per pass kind, built once: building one reads trafilatura's
    config file settings again (~0.4 ms, a tenth of a fast pass). trafilatura copies an
    Extractor before changing it, so sharing is safe."""
    return Extractor(fast=fast, precision=precision, recall=recall, comments=False, tables=True)


def _trafilatura(tree: HtmlElement, fast: bool = False, precision: bool = False, recall: bool = False) -> str:
    # trafilatura copies a tree it is given, so one parse serves every pass.
    text = trafilatura.extract(tree, options=_options(fast, precision, recall))
    return text or ""


def html_to_text(root: HtmlElement) -> str:
    """Text of an HTML fragment with one line per block element (the tree is modified)."""
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag in _BLOCKS:
            el.tail = "\n" + (el.tail or "")
            if el.tag == "li":
                el.text = "- " + (el.text or "")
    lines = (_SPACES.sub(" ", ln).strip() for ln in root.text_content().splitlines())
    return "\n".join(ln for ln in lines if ln)


def _readability(tree: HtmlElement) -> str:
    from readability import Document  # lazy: only needed when the trafilatura passes disagree

    summary = Document(deepcopy(tree)).summary(html_partial=True)
    if not summary.strip():
        return ""
    try:
        return html_to_text(fragment_fromstring(summary, create_parent="div"))
    except (AssertionError, ParserError) as exc:
        # Finding no article, readability may hand back a whole document without a body, which
        # lxml's fragment parser refuses (with an assertion): readability has no candidate then.
        log.info("readability found no article text (%s)", str(exc)[:80])
        return ""


def _holds_much_of_the_page(text: str, tree: HtmlElement) -> bool:
    """Whether `text` has at least SURE_SHARE of the words of the whole page."""
    words = len(_WORD.findall(text))
    return words >= SURE_SHARE * len(_WORD.findall(tree.text_content()))


def extract_body(tree: HtmlElement) -> str:
    """Best article text of the page; empty when no extractor finds one."""
    precise = _trafilatura(tree, fast=True, precision=True)
    if precise and _holds_much_of_the_page(precise, tree):
        return precise  # the passes would agree: skip the second one (see SURE_SHARE)
    fast = _trafilatura(tree, fast=True)
    fast_sh, precise_sh = shingles(fast), shingles(precise)
    if precise and agreement(fast_sh, precise_sh) >= AGREE:
        return precise
    candidates = [(fast, fast_sh), (precise, precise_sh)]
    readable = _readability(tree)
    candidates.append((readable, shingles(readable)))
    candidates = [c for c in candidates if c[0].strip()]
    if not precise:
        # Without the precise pass a few words are menu or footer text, not an article.
        candidates = [c for c in candidates if sum(c[1].values()) + 3 >= MIN_LAST_RESORT_WORDS]
    if not candidates:
        # Last resort: trafilatura's full cascade (its own readability and jusText fallbacks), which
        # on a page without an article returns menu words; those are not an article.
        text = _trafilatura(tree, recall=True)
        return text if len(_WORD.findall(text)) >= MIN_LAST_RESORT_WORDS else ""
    if len(candidates) < 3:
        return max(candidates, key=lambda c: len(c[0]))[0]

    def support(i: int) -> float:
        return sum(agreement(candidates[i][1], candidates[j][1]) for j in range(len(candidates)) if j != i)

    best = max(range(len(candidates)), key=support)
    return candidates[best][0]
