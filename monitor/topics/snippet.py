"""Snippets: the sentence(s) around the strongest hit, with exact highlight offsets.

The snippet is cut only at sentence boundaries or, for an overlong sentence, at whitespace
(marked with "…"), so no word is ever cut. Runs of whitespace are collapsed to one space
(paragraph breaks would break a one-line digest), and highlight offsets are mapped through
that collapse, so `snippet[start:end]` is exactly the matched text.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence

SNIPPET_LIMIT = 300
ELLIPSIS = "…"

_SENTENCE_END = re.compile(r"[.!?…]+[\"'»”’)\]]*\s+|\s*\n\s*")
_SPACE = re.compile(r"\s+")
_NOT_SINGLE_SPACE = re.compile(r"[^\S ]| {2,}")
_COLLAPSING = re.compile(r"\s{2,}|[^\S ]")  # whole whitespace runs that are not a single space


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, surrounding whitespace excluded."""
    out: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        end = m.end()
        piece = text[start:end]
        stripped_end = start + len(piece.rstrip())
        lead = len(piece) - len(piece.lstrip())
        if stripped_end > start + lead:
            out.append((start + lead, stripped_end))
        start = end
    if start < len(text):
        piece = text[start:]
        lead = len(piece) - len(piece.lstrip())
        if piece.strip():
            out.append((start + lead, start + len(piece.rstrip())))
    return out


def _window(text: str, lo: int, hi: int, focus: tuple[int, int], limit: int) -> tuple[int, int]:
    """A window of at most `limit` chars within [lo, hi) containing `focus`, cut only at whitespace."""
    f_start, f_end = focus
    start = max(lo, f_start - max(0, (limit - (f_end - f_start)) // 3))
    end = min(hi, start + limit)
    if end - start < limit:
        start = max(lo, end - limit)
    if start > lo and not text[start - 1].isspace():  # inside a word: skip to the next one
        ws = _SPACE.search(text, start, f_start)
        start = ws.end() if ws else f_start
    if end < hi and not text[end].isspace():  # inside a word: back to the previous gap
        gap = max(text.rfind(" ", f_end, end), text.rfind("\n", f_end, end))
        end = gap if gap >= f_end else f_end
    while start < f_start and text[start].isspace():
        start += 1
    while end > f_end and text[end - 1].isspace():
        end -= 1
    return start, end


def make_snippet(
    text: str,
    hits: Sequence[tuple[int, int, str, float]],
    limit: int = SNIPPET_LIMIT,
    sents: list[tuple[int, int]] | None = None,
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """Snippet of `text` around the strongest hit, and highlight offsets into it.

    `hits` are (start, end, term key, weight) in `text`. The strongest sentence is the one
    whose distinct terms weigh most (earliest wins ties); neighbours are added while the
    snippet stays within `limit` characters. `sents` are `sentences(text)`, if already known.
    """
    if not hits:
        return "", ()
    sents = (sentences(text) if sents is None else sents) or [(0, len(text))]
    starts = [s for s, _ in sents]

    def sentence_of(pos: int) -> int:
        return max(0, bisect.bisect_right(starts, pos) - 1)

    best_by_sentence: dict[int, dict[str, float]] = {}
    for start, _end, key, weight in hits:
        terms = best_by_sentence.setdefault(sentence_of(start), {})
        terms[key] = max(terms.get(key, 0.0), weight)
    best = max(best_by_sentence, key=lambda i: (sum(best_by_sentence[i].values()), -i))
    lo, hi = sents[best]
    prefix = suffix = ""
    if hi - lo > limit:
        in_best = [h for h in hits if lo <= h[0] < hi]
        focus = max(in_best, key=lambda h: (h[3], -h[0]))
        lo2, hi2 = _window(text, lo, hi, (focus[0], focus[1]), limit)
        prefix = ELLIPSIS if lo2 > lo else ""
        suffix = ELLIPSIS if hi2 < hi else ""
        lo, hi = lo2, hi2
    else:
        after, before = best + 1, best - 1
        while True:
            grown = False
            if after < len(sents) and sents[after][1] - lo <= limit:
                hi = sents[after][1]
                after += 1
                grown = True
            if before >= 0 and hi - sents[before][0] <= limit:
                lo = sents[before][0]
                before -= 1
                grown = True
            if not grown:
                break
    return _collapse(text, lo, hi, [(s, e) for s, e, _k, _w in hits], prefix, suffix)


def _collapse(
    text: str, lo: int, hi: int, spans: Iterable[tuple[int, int]], prefix: str, suffix: str
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """text[lo:hi] with whitespace runs collapsed, plus the spans inside it, remapped."""
    piece = text[lo:hi]
    if not _NOT_SINGLE_SPACE.search(piece):  # common case: nothing to collapse, offsets only shift
        shift = len(prefix) - lo
        return f"{prefix}{piece}{suffix}", _merge(
            (start + shift, end + shift) for start, end in sorted(set(spans)) if lo <= start and end <= hi
        )
    collapsed = _SPACE.sub(" ", piece)
    runs = [m.span() for m in _COLLAPSING.finditer(piece)]  # single spaces stay as they are
    run_starts = [a for a, _ in runs]
    run_ends = [b for _, b in runs]
    removed = [0]  # characters dropped by the runs before each run
    for a, b in runs:
        removed.append(removed[-1] + b - a - 1)

    def remap(offset: int) -> int:
        """len(_SPACE.sub(" ", piece[:offset])) + len(prefix), from the runs found once."""
        j = bisect.bisect_right(run_starts, offset) - 1
        if j >= 0 and offset < run_ends[j]:  # at or inside a run (word ends are): its part counts as one
            inside = offset - run_starts[j]
            return offset - removed[j] - (inside - 1 if inside else 0) + len(prefix)
        return offset - removed[bisect.bisect_right(run_ends, offset)] + len(prefix)

    marks = (
        (remap(start - lo), remap(end - lo)) for start, end in sorted(set(spans)) if lo <= start and end <= hi
    )
    return f"{prefix}{collapsed}{suffix}", _merge(marks)


def _merge(marks: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Sorted highlight spans with overlapping ones merged."""
    merged: list[tuple[int, int]] = []
    for start, end in marks:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)


def mark_text(snippet: str, highlights: Iterable[tuple[int, int]]) -> str:
    """Plain-text marking for the text digest and the CLI: ``*word*`` around each highlight."""
    out: list[str] = []
    last = 0
    for start, end in sorted(highlights):
        if start < last:
            continue
        out.append(snippet[last:start])
        out.append(f"*{snippet[start:end]}*")
        last = end
    out.append(snippet[last:])
    return "".join(out)
