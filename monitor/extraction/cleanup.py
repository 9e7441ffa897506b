"""Generic line-level cleanup of extracted article text.

Extractors keep some boilerplate that sits inside the article container: photo credits, "Related:"
links, newsletter promos, share bars, a trailing list of other headlines. These lines make false topic
matches and ugly digests, so each rule here drops one kind of them. The rules look at the shape and
wording of a line, never at a particular site; each is a named ``Rule`` so tests and the benchmark can
switch one off and see what it does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["RULES", "Rule", "clean_lines", "clean_text", "normalize_title"]

_WORD = re.compile(r"\w+")
_LIST_ITEM = re.compile(r"^\s*(?:[-•*·–—]|\d{1,2}[.)])\s+")
_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE = re.compile(
    rf"(?i)\b(?:{_MONTHS}\.?\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}\s+{_MONTHS}\.?,?\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2}|\d{1,2}[./]\d{1,2}[./]\d{2,4}|\d+\s+(?:minutes?|hours?|days?|weeks?)\s+ago)\b"
)

# "© Reuters", "©Roman Pilipey / AFP - Getty Images", "Photo: AP", "(Photo by X/Getty Images)",
# "Image credit: NASA", "File photo. Jane Doe/Reuters".
_AGENCIES = (
    r"(?:getty(?:\s+images)?|afp|reuters|ap(?:\s+photo)?|associated\s+press|epa(?:-efe)?|shutterstock|"
    r"alamy|istock(?:photo)?|pa(?:\s+(?:wire|images|media))?|xinhua|anadolu|sipa|rex|bloomberg|"
    r"zuma(?:\s+press)?|dpa|ansa|tass|ria\s+novosti|efe|imago|corbis|nurphoto|wireimage|unsplash)"
)
_CREDIT_PREFIX = re.compile(
    r"(?i)^\W*(?:[©ⓒ]|\(c\)\s|(?:file\s+)?(?:photo|image|picture|pic|foto|video|illustration|graphic)s?"
    r"(?:\s+(?:credit|courtesy|by))?\s*[:|/]|(?:photo|image)\s+(?:credit|courtesy)\b|credit\s*:|"
    r"photograph(?:y|er)?\s*:|\(?\s*(?:photo|image|picture)\s+(?:by|courtesy\s+of)\b|source\s*:\s*(?:getty|afp|reuters|ap)\b)"
)
_AGENCY_TAIL = re.compile(rf"(?i)(?:[/|]\s*|\b(?:via|for|by)\s+|-\s+|\(\s*){_AGENCIES}\W*\s*\)?\s*$")
_AGENCY_ONLY = re.compile(rf"(?i)^\W*{_AGENCIES}\W*$")
_COPYRIGHT = re.compile(r"(?i)^\W*(?:[©ⓒ]|copyright\b|\(c\)\s).{0,120}$|all rights reserved\W*$")

_RELATED_PREFIX = re.compile(
    r"(?i)^\W*(?:related(?:\s+(?:post|article|story|stories|content|coverage|news|links?|reading))?"
    r"|read\s+(?:more|also|next)|see\s+(?:more|also)|also\s+(?:read|see|on\s+\S+)|more\s*(?:on\s+this|:)"
    r"|(?:you\s+)?(?:may|might)\s+also\s+(?:like|enjoy|be\s+interested)|recommended(?:\s+for\s+you)?"
    r"|don'?t\s+miss|must\s+read|most\s+(?:read|popular)|popular\s+(?:on|in|now)|trending(?:\s+now)?"
    r"|more\s+from|more\s+stories|latest\s+(?:news|stories)|top\s+stories|watch\s*:|listen\s*:"
    r"|leggi\s+anche|lesen\s+sie\s+auch|lire\s+aussi|à\s+lire\s+aussi|lee\s+también|leia\s+também"
    r"|читайте\s+также|читайте\s+тако(?:ж|ж)|смотрите\s+также)\b"
)
_PROMO = re.compile(
    r"(?i)(?:\bsign\s*(?:ing)?\s*up\b.{0,80}\b(?:newsletter|inbox|email|updates|alerts)"
    r"|\bsubscribe\s+(?:to|now|today|for)\b|\bsubscribing\s+to\b|\bnewsletters?\b.{0,60}\b(?:inbox|sign|subscribe)"
    r"|\b(?:inbox|newsletter)\b.{0,40}\bevery\s+(?:week)?day\b|thanks?\s+(?:you\s+)?for\s+(?:signing\s+up|subscribing)"
    r"|error\s+processing\s+your\s+subscription|get\s+the\s+(?:latest|top)\s+.{0,40}\b(?:in|to)\s+your\s+inbox"
    r"|delivered\s+(?:straight\s+)?to\s+your\s+inbox|\bclick\s+here\s+to\s+(?:subscribe|sign\s+up|get|download)"
    r"|\bget\s+.{0,30}\bapp\b.{0,20}\bclick|^\W*click\s+here\b.{0,60}$)"
)
_SHARE = re.compile(
    r"(?i)^\W*(?:share(?:\s+(?:this|on|via|the\s+article|article|story))?\s*:?"
    r"(?:\s*(?:facebook|twitter|x|telegram|whatsapp|linkedin|email|e-mail|reddit|pinterest|print|copy\s+link)\W*)*"
    r"|(?:like|enjoy(?:ed)?)\s+this\s+(?:story|article)\?.*share.*"
    r"|follow\s+(?:\S+\s+){0,6}on\s+(?:twitter|facebook|instagram|telegram|youtube|linkedin)\b.{0,80}"
    r"|(?:facebook|twitter|x|telegram|whatsapp|linkedin|email|reddit|pinterest|print)"
    r"(?:\W+(?:facebook|twitter|x|telegram|whatsapp|linkedin|email|reddit|pinterest|print))+\W*)$"
)
_COMMENTS = re.compile(
    r"(?i)^\W*(?:\d+\s+)?(?:comments?|reader\s+comments|leave\s+a\s+(?:comment|reply)|post\s+a\s+comment"
    r"|show\s+comments|view\s+comments|join\s+the\s+(?:discussion|conversation)|tell\s+us\s+what\s+you\s+think"
    r"|what\s+do\s+you\s+think\??|add\s+(?:a\s+)?comment)\W*(?:\(\d+\))?\W*$"
)


def _words(line: str) -> int:
    return len(_WORD.findall(line))


def _is_photo_credit(line: str) -> bool:
    """A short caption/credit line: starts like a credit, or ends naming a photo agency."""
    n = _words(line)
    if n == 0 or n > 25:
        return False
    if _AGENCY_ONLY.match(line):
        return True
    if _CREDIT_PREFIX.match(line):
        return True
    # "Roman Pilipey / AFP - Getty Images", "A protester in Kyiv. Jane Doe/Reuters"
    return n <= 18 and bool(_AGENCY_TAIL.search(line)) and not line.rstrip().endswith((".", "?", "!", ":"))


def _is_copyright(line: str) -> bool:
    return _words(line) <= 25 and bool(_COPYRIGHT.search(line))


def _is_related_marker(line: str) -> bool:
    return _words(line) <= 30 and bool(_RELATED_PREFIX.match(line))


def _is_promo(line: str) -> bool:
    return _words(line) <= 45 and bool(_PROMO.search(line))


def _is_share(line: str) -> bool:
    return _words(line) <= 30 and bool(_SHARE.match(line))


def _is_comments(line: str) -> bool:
    return _words(line) <= 8 and bool(_COMMENTS.match(line))


@dataclass(frozen=True)
class Rule:
    """One kind of boilerplate line, recognised by a predicate on the stripped line."""

    name: str
    matches: Callable[[str], bool]


RULES: tuple[Rule, ...] = (
    Rule("photo_credit", _is_photo_credit),
    Rule("copyright", _is_copyright),
    Rule("related", _is_related_marker),
    Rule("promo", _is_promo),
    Rule("share", _is_share),
    Rule("comments", _is_comments),
)


def normalize_title(text: str) -> str:
    """Lower-cased word sequence, for comparing a line with the title."""
    return " ".join(_WORD.findall(text.casefold()))


def _headline_like(line: str) -> bool:
    """A list line that reads as a link to another story: short, maybe dated, not a sentence."""
    body = _LIST_ITEM.sub("", line).strip()
    n = _words(body)
    if n == 0 or n > 22:
        return False
    return bool(_DATE.search(body)) or not body.endswith((".", ";", ":", ",", "!"))


def _trailing_link_list(lines: Sequence[str]) -> int:
    """Index where a trailing run of headline-like list items starts (len(lines) when none).

    A run counts when it has at least two items and either every item carries a date (the
    "- Some headline - August 4, 2025" blocks of blog widgets) or the run follows a "Related"
    style marker line.
    """
    i = len(lines)
    while i > 0 and _LIST_ITEM.match(lines[i - 1]) and _headline_like(lines[i - 1]):
        i -= 1
    run = lines[i:]
    if len(run) < 2:
        return len(lines)
    if all(_DATE.search(ln) for ln in run):
        return i
    if i > 0 and _is_related_marker(lines[i - 1]):
        return i - 1
    return len(lines)


def clean_lines(
    lines: Sequence[str],
    *,
    title: str | Sequence[str] = "",
    rules: Sequence[Rule] = RULES,
    trailing_lists: bool = True,
) -> list[str]:
    """Drop boilerplate lines; ``title`` (one or several forms of it) drops a leading repeat of it."""
    out = [ln.strip() for ln in lines if ln.strip()]
    titles = [title] if isinstance(title, str) else list(title)
    wanted = {normalize_title(t) for t in titles} - {""}
    while out and normalize_title(out[0]) in wanted:
        out.pop(0)
    kept: list[str] = []
    skip_list = False
    for ln in out:
        if skip_list and _LIST_ITEM.match(ln) and _headline_like(ln):
            continue  # the list that a "Related:" marker introduced
        skip_list = False
        hit = next((r for r in rules if r.matches(ln)), None)
        if hit is None:
            kept.append(ln)
        elif hit.name == "related":
            skip_list = True
    if trailing_lists:
        kept = kept[: _trailing_link_list(kept)]
    return kept


def clean_text(text: str, *, title: str | Sequence[str] = "", rules: Sequence[Rule] = RULES) -> str:
    """``clean_lines`` over a newline-separated text."""
    return "\n".join(clean_lines(text.splitlines(), title=title, rules=rules))
