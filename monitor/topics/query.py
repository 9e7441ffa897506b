"""Query language -> syntax tree, with errors that point at the offending column.

Grammar (operators are upper case only; lower-case ``and``/``or``/``not`` are ordinary words)::

    query   := or_expr
    or_expr := and_expr ("OR" and_expr)*
    and_expr:= unary (["AND"] unary)*            -- juxtaposition is AND
    unary   := "NOT" unary | "-" near | near
    near    := atom ("NEAR/" n atom)*
    atom    := "(" or_expr ")" | ["title:"] (word | prefix* | "a phrase") | "site:" domain

Typographic quotes (“ ” „ ‟ « » ‹ ›) are quotes and dashes (‐ ‑ ‒ – — −) before a term are '-',
because text pasted from word processors and phones has them where '"' and '-' were typed.

Precedence, tightest first: NEAR, NOT/-, AND, OR. A query that can match without any of its
positive terms (only exclusions, or an OR with an exclusion-only side) is refused: it would
match nearly every article. Nesting is limited (MAX_DEPTH levels of parentheses, NOT, - and
NEAR; MAX_NEAR_NESTING NEARs one inside another), so that no accepted query can exhaust the
stack of the recursive steps after parsing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.topics import normalize


class QueryError(ValueError):
    """A query (or keyword) that cannot be compiled; `column` is 1-based into `query`."""

    def __init__(self, reason: str, query: str, column: int):
        self.reason = reason
        self.query = query
        self.column = max(1, min(column, len(query) + 1))
        super().__init__(reason)

    def __str__(self) -> str:
        return f"{self.reason} (column {self.column})\n  {self.query}\n  {' ' * (self.column - 1)}^"


# ---- syntax tree -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    column: int  # 1-based position in the query, for errors


@dataclass(frozen=True)
class Phrase(Node):
    """Words in this order, adjacent (a single word is a one-word phrase)."""

    words: tuple[str, ...]  # folded, unstemmed
    field: str = ""  # "" (title or text) or "title"
    text: str = ""  # as written, for explain()


@dataclass(frozen=True)
class Prefix(Node):
    prefix: str  # folded
    field: str = ""


@dataclass(frozen=True)
class Site(Node):
    domain: str  # lower case, no leading "www." stripped: subdomains match anyway


@dataclass(frozen=True)
class Near(Node):
    left: Node
    right: Node
    distance: int


@dataclass(frozen=True)
class Not(Node):
    child: Node


@dataclass(frozen=True)
class And(Node):
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or(Node):
    children: tuple[Node, ...]


POSITIONAL = (Phrase, Prefix, Near, Or)  # Or only when all its children are positional

# ---- lexer -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tok:
    kind: str  # WORD PHRASE PREFIX SITE LPAR RPAR AND OR NOT MINUS NEAR END
    text: str
    column: int
    field: str = ""
    number: int = 0


_OPERATORS = {"AND", "OR", "NOT"}
_NEAR_RE = re.compile(r"NEAR(?:/(\d*))?$")
_FIELD_RE = re.compile(r"([^\W\d_]+):(?=.)")  # letters, a colon, then the term: a field
MAX_NEAR = 1000  # words; further apart is no longer "near" (and keeps the number small)
# Levels of ( ), NOT / - and NEAR one inside another. No query a person writes comes near it, and it
# keeps the parser and everything that walks the tree recursively (compile_node, presearch, the
# evaluation) far from Python's recursion limit: the tree is at most about 3 * MAX_DEPTH deep.
MAX_DEPTH = 50
# NEARs one inside another (a chain a NEAR b NEAR c is (a NEAR b) NEAR c: 2). The matcher evaluates
# a NEAR's sides more than once, so its time doubles with every level; 8 is more than anyone writes.
MAX_NEAR_NESTING = 8
# Quotes that word processors, mail clients and phones put where '"' was typed. Any one closes
# any other, as '"' closes '"': „…“, «…», »…« and ”…” are all in use. The single curly quotes
# are not among them: ’ and ‘ are also apostrophes (перемир’я, l’Élysée), and "'" is no quote here.
_QUOTES = frozenset('"“”„‟«»‹›')
_QUOTE_RE = re.compile("[" + "".join(sorted(_QUOTES)) + "]")
# Likewise for '-': hyphens, en/em dashes and the minus sign exclude the term they stand before.
# Inside a word they are left alone (cease–fire is a compound, as cease-fire is).
_DASHES = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2212")
_SPECIAL = frozenset("()") | _QUOTES
_DOMAIN_RE = re.compile(r"^[\w.-]+$")


def _lex(query: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        col = i + 1
        if ch.isspace():
            i += 1
        elif ch == "(":
            toks.append(_Tok("LPAR", ch, col))
            i += 1
        elif ch == ")":
            toks.append(_Tok("RPAR", ch, col))
            i += 1
        elif ch in _QUOTES:
            end = _QUOTE_RE.search(query, i + 1)
            if end is None:
                raise QueryError("unclosed quote", query, col)
            toks.append(_Tok("PHRASE", query[i + 1 : end.start()], col))
            i = end.end()
        elif ch in _DASHES and (i + 1 >= n or query[i + 1].isspace() or query[i + 1] in ")"):
            raise QueryError(f"'{ch}' must be directly followed by a term to exclude", query, col)
        elif ch in _DASHES:
            toks.append(_Tok("MINUS", ch, col))
            i += 1
        else:
            j = i
            while j < n and not query[j].isspace() and query[j] not in _SPECIAL:
                j += 1
            word = query[i:j]
            lower = word.lower()
            if lower == "title:" and j < n and query[j] in _QUOTES:
                end = _QUOTE_RE.search(query, j + 1)
                if end is None:
                    raise QueryError("unclosed quote", query, j + 1)
                toks.append(_Tok("PHRASE", query[j + 1 : end.start()], col, field="title"))
                i = end.end()
                continue
            i = j
            if word in _OPERATORS:
                toks.append(_Tok(word, word, col))
                continue
            near = _NEAR_RE.match(word)
            if near:
                if not near.group(1):
                    raise QueryError("NEAR needs a distance in words, e.g. NEAR/5", query, col)
                # the value of all the digits: leading zeros do not count, and a number longer than
                # MAX_NEAR's is too big without turning thousands of digits into an int
                digits = near.group(1).lstrip("0")
                if not digits or len(digits) > len(str(MAX_NEAR)) or int(digits) > MAX_NEAR:
                    raise QueryError(
                        f"NEAR distance must be at least 1 and at most {MAX_NEAR} words", query, col
                    )
                toks.append(_Tok("NEAR", word, col, number=int(digits)))
                continue
            if lower.startswith("near/"):  # a NEAR/n misspelt would silently be two words
                hint = "operators are upper case, e.g. NEAR/5" if word[:4] != "NEAR" else "e.g. NEAR/5"
                raise QueryError(
                    f'NEAR needs a distance in words ({hint}; quote "{word}" to search for it)', query, col
                )
            field_name = _FIELD_RE.match(lower)
            if field_name and field_name.group(1) not in ("title", "site"):
                raise _unknown_field(field_name.group(1), word, query, col)
            field = ""
            if lower.startswith("site:"):
                domain = lower[5:].strip(".")
                if not domain or not _DOMAIN_RE.match(domain):
                    raise QueryError("site: needs a domain, e.g. site:example.org", query, col)
                toks.append(_Tok("SITE", domain, col))
                continue
            if lower.startswith("title:"):
                field = "title"
                word = word[6:]
                if not word:
                    raise QueryError('title: needs a word or "a phrase" right after it', query, col)
                _check_title_term(word, query, col + 6)
            if word.endswith("*"):
                stem = word[:-1]
                if "*" in stem or not normalize.WORD_RE.fullmatch(stem or "-"):
                    raise QueryError("'*' must end a single word, e.g. kurs*", query, col)
                toks.append(_Tok("PREFIX", stem, col, field=field))
            elif "*" in word:
                raise QueryError("'*' is only allowed at the end of a word", query, col + word.index("*"))
            else:
                toks.append(_Tok("WORD", word, col, field=field))
    toks.append(_Tok("END", "", len(query) + 1))
    return toks


def _unknown_field(name: str, word: str, query: str, col: int) -> QueryError:
    return QueryError(
        f'unknown field {name}: (fields are title: and site:; quote "{word}" to search for it as written)',
        query,
        col,
    )


def _check_title_term(term: str, query: str, col: int) -> None:
    """Refuse what `title:` cannot take but would silently turn into words of a title phrase."""
    if term[0] in _DASHES:
        raise QueryError(
            f"title: cannot exclude; write -title:{term[1:] or 'word'} to exclude it from titles", query, col
        )
    if term in _OPERATORS or _NEAR_RE.match(term) or term.lower().startswith("near/"):
        raise QueryError(
            f'title: needs a word or "a phrase" right after it, not the operator {term} '
            f'(quote it, title:"{term}", to search for the word)',
            query,
            col,
        )
    field_name = _FIELD_RE.match(term.lower())
    if field_name is None:
        return
    name = field_name.group(1)
    if name == "site":
        raise QueryError(
            f"site: is the article's address, not words of its title; write {term} on its own", query, col
        )
    if name == "title":
        raise QueryError("title: is written twice", query, col)
    raise _unknown_field(name, term, query, col)


# ---- parser ------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, query: str):
        self.query = query
        self.toks = _lex(query)
        self.i = 0
        self.depth = 0  # levels of ( ), NOT and - around the token being parsed
        self.peak = 0  # the deepest level a subtree parsed so far reaches (see _measured)

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def error(self, reason: str, column: int) -> QueryError:
        return QueryError(reason, self.query, column)

    def _too_deep(self, column: int) -> QueryError:
        return self.error(
            f"query nests too deeply: more than {MAX_DEPTH} levels of parentheses, NOT, - and NEAR", column
        )

    def _enter(self, tok: _Tok) -> None:
        """One level deeper (a parenthesis, NOT or -), refused beyond MAX_DEPTH; undo with depth -= 1."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self._too_deep(tok.column)
        self.peak = max(self.peak, self.depth)

    def _measured(self) -> tuple[Node, int]:
        """An atom and how many levels it nests below the current depth (for a NEAR chain)."""
        outer, self.peak = self.peak, self.depth
        node = self.atom()
        height = self.peak - self.depth
        self.peak = max(outer, self.peak)
        return node, height

    def parse(self) -> Node:
        if self.peek().kind == "END":
            raise self.error("empty query", 1)
        node = self.or_expr()
        tok = self.peek()
        if tok.kind == "RPAR":
            raise self.error("unmatched ')'", tok.column)
        if tok.kind != "END":  # pragma: no cover - every token kind is consumed above
            raise self.error(f"unexpected {tok.text!r}", tok.column)
        return node

    def or_expr(self) -> Node:
        first = self.and_expr()
        children = [first]
        while self.peek().kind == "OR":
            op = self.take()
            if self.peek().kind in ("END", "RPAR", "OR", "AND"):
                raise self.error("OR needs a term on both sides", op.column)
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(first.column, tuple(children))

    def _starts_unary(self, tok: _Tok) -> bool:
        return tok.kind in ("WORD", "PHRASE", "PREFIX", "SITE", "LPAR", "NOT", "MINUS")

    def and_expr(self) -> Node:
        tok = self.peek()
        if tok.kind in ("AND", "OR"):
            raise self.error(f"{tok.kind} needs a term on both sides", tok.column)
        if tok.kind == "NEAR":
            raise self.error("NEAR needs a word or phrase on both sides", tok.column)
        first = self.unary()
        children = [first]
        while True:
            tok = self.peek()
            if tok.kind == "AND":
                self.take()
                nxt = self.peek()
                if not self._starts_unary(nxt):
                    raise self.error("AND needs a term on both sides", tok.column)
                children.append(self.unary())
            elif self._starts_unary(tok):
                children.append(self.unary())
            else:
                break
        return children[0] if len(children) == 1 else And(first.column, tuple(children))

    def unary(self) -> Node:
        tok = self.peek()
        if tok.kind == "NOT":
            self.take()
            if not self._starts_unary(self.peek()):
                raise self.error("NOT needs a term after it", tok.column)
            self._enter(tok)
            child = self.unary()
            self.depth -= 1
            return Not(tok.column, child)
        if tok.kind == "MINUS":
            self.take()
            nxt = self.peek()
            if nxt.kind not in ("WORD", "PHRASE", "PREFIX", "SITE", "LPAR"):
                raise self.error(f"'{tok.text}' must be directly followed by a term to exclude", tok.column)
            # NEAR binds tighter than '-' as it does than NOT: -a NEAR/3 b is NOT (a NEAR/3 b)
            self._enter(tok)
            child = self.near()
            self.depth -= 1
            return Not(tok.column, child)
        return self.near()

    def near(self) -> Node:
        left, height = self._measured()
        nesting = _near_nesting(left)
        while self.peek().kind == "NEAR":
            op = self.take()
            if self.peek().kind not in ("WORD", "PHRASE", "PREFIX", "LPAR"):
                raise self.error("NEAR needs a word or phrase on both sides", op.column)
            right, right_height = self._measured()
            for side in (left, right):
                if not _positional(side):
                    raise self.error(
                        "NEAR joins words, phrases, prefixes or ( ... OR ... ) of those", side.column
                    )
            # a chain nests to the left, a NEAR b NEAR c = (a NEAR b) NEAR c: one level per NEAR
            height = max(height, right_height) + 1
            if self.depth + height > MAX_DEPTH:
                raise self._too_deep(op.column)
            nesting = max(nesting, _near_nesting(right)) + 1
            if nesting > MAX_NEAR_NESTING:
                raise self.error(
                    f"more than {MAX_NEAR_NESTING} NEARs one inside another (a NEAR/5 b NEAR/5 c counts 2)",
                    op.column,
                )
            self.peak = max(self.peak, self.depth + height)
            left = Near(left.column, left, right, op.number)
        return left

    def atom(self) -> Node:
        tok = self.take()
        if tok.kind == "LPAR":
            if self.peek().kind == "RPAR":
                raise self.error("empty parentheses", tok.column)
            if self.peek().kind == "END":
                raise self.error("unclosed parenthesis", tok.column)
            self._enter(tok)
            node = self.or_expr()
            self.depth -= 1
            close = self.take()
            if close.kind != "RPAR":
                raise self.error("unclosed parenthesis", tok.column)
            return node
        if tok.kind in ("WORD", "PHRASE"):
            words = tuple(normalize.words(tok.text))
            if not words:
                what = "phrase" if tok.kind == "PHRASE" else "term"
                raise self.error(f"{what} {tok.text!r} has no letters or digits to search for", tok.column)
            return Phrase(tok.column, words, tok.field, tok.text)
        if tok.kind == "PREFIX":
            prefix = normalize.fold(tok.text)
            if not prefix:  # only combining marks: the empty prefix would match every document
                written = ascii(tok.text + "*")  # escaped: combining marks alone do not show
                raise self.error(f"prefix {written} has no letters or digits to search for", tok.column)
            return Prefix(tok.column, prefix, tok.field)
        if tok.kind == "SITE":
            return Site(tok.column, tok.text)
        if tok.kind == "RPAR":
            raise self.error("unmatched ')'", tok.column)
        if tok.kind == "END":
            raise self.error("query ends where a term was expected", tok.column)
        if tok.kind == "NEAR":
            raise self.error("NEAR needs a word or phrase on both sides", tok.column)
        raise self.error(f"{tok.kind} needs a term on both sides", tok.column)


def _positional(node: Node) -> bool:
    if isinstance(node, Or):
        return all(_positional(c) for c in node.children)
    return isinstance(node, (Phrase, Prefix, Near))


def _near_nesting(node: Node) -> int:
    """How many NEARs lie one inside another in a NEAR side (only OR and NEAR can hold them)."""
    if isinstance(node, Near):
        return 1 + max(_near_nesting(node.left), _near_nesting(node.right))
    if isinstance(node, Or):
        return max(map(_near_nesting, node.children))
    return 0


def _unbounded(node: Node) -> Node | None:
    """The sub-node that lets `node` match an article containing none of the positive terms."""
    if isinstance(node, Not):
        return node
    if isinstance(node, And):
        culprits = [_unbounded(c) for c in node.children]
        return culprits[0] if all(culprits) else None
    if isinstance(node, Or):
        for child in node.children:
            culprit = _unbounded(child)
            if culprit is not None:
                return culprit
    return None


def parse(query: str) -> Node:
    """Parse a query into its syntax tree; raise QueryError for anything malformed."""
    node = _Parser(query).parse()
    culprit = _unbounded(node)
    if culprit is not None:
        raise QueryError(
            "query only excludes (NOT / -term / -site:) here, so it would match every article; "
            "add a word or phrase to look for",
            query,
            culprit.column,
        )
    return node


def keyword_phrase(keyword: str, index: int) -> Phrase:
    """One configured keyword as a phrase (no query syntax: quotes, '*', '-' are just text)."""
    words = tuple(normalize.words(keyword))
    if not words:
        raise QueryError(f"keyword #{index + 1} has no letters or digits to search for", keyword, 1)
    return Phrase(1, words, "", keyword)


def explain_tree(node: Node, indent: int = 0) -> list[str]:
    """Lines of an indented, human-readable rendering of the syntax tree."""
    pad = "  " * indent
    if isinstance(node, Phrase):
        where = "title:" if node.field else ""
        kind = "WORD" if len(node.words) == 1 else "PHRASE"
        return [f'{pad}{kind} {where}"{" ".join(node.words)}"']
    if isinstance(node, Prefix):
        return [f"{pad}PREFIX {'title:' if node.field else ''}{node.prefix}*"]
    if isinstance(node, Site):
        return [f"{pad}SITE {node.domain} (or a subdomain)"]
    if isinstance(node, Not):
        return [f"{pad}NOT", *explain_tree(node.child, indent + 1)]
    if isinstance(node, Near):
        return [
            f"{pad}NEAR/{node.distance} (within {node.distance} words, either order)",
            *explain_tree(node.left, indent + 1),
            *explain_tree(node.right, indent + 1),
        ]
    if isinstance(node, (And, Or)):
        lines = [f"{pad}{'AND' if isinstance(node, And) else 'OR'}"]
        for child in node.children:
            lines.extend(explain_tree(child, indent + 1))
        return lines
    raise TypeError(f"unknown node {node!r}")  # pragma: no cover
