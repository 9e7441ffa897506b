"""The YAML config: loaded once, validated completely, turned into typed settings.

Validation walks PyYAML's node tree rather than plain dicts so that every problem can
name the file, the key path and the line; all problems are reported at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time, timedelta
from email.headerregistry import Address
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from monitor.topics import QueryError, Topic, compile_topic
from monitor.urls import is_http_url

ENV_CONFIG = "MONITOR_CONFIG"
ENV_MONGODB_URI = "MONITOR_MONGODB_URI"
ENV_DATA_DIR = "MONITOR_DATA_DIR"  # a container mounts the config read-only and its data elsewhere
ENV_SMTP_PASSWORD = "MONITOR_SMTP_PASSWORD"
DEFAULT_CONFIG = "monitor.yaml"


@dataclass(frozen=True)
class Problem:
    file: str
    key: str
    line: int
    message: str

    def __str__(self) -> str:
        if self.key.startswith("$"):  # from the environment, not from a line of the file
            return f"{self.key}: {self.message}"
        return f"{self.file}:{self.line}: {self.key or '(top level)'}: {self.message}"


class ConfigError(Exception):
    """Every problem found in one config file (exit code 2)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class StorageConfig:
    mongodb_uri: str = "embedded"
    data_dir: Path = Path("var")

    @property
    def embedded(self) -> bool:
        return self.mongodb_uri == "embedded"


@dataclass(frozen=True)
class CrawlConfig:
    every: timedelta = timedelta(minutes=30)
    user_agent: str = "newsmon/0.1 (+https://github.com/newsmon/newsmon)"
    obey_robots: bool = True
    per_site_concurrency: int = 4
    concurrency: int = 32
    delay: timedelta = timedelta(0)
    autothrottle: bool = True
    timeout: timedelta = timedelta(seconds=30)
    retries: int = 2
    max_page_bytes: int = 10 * 1024 * 1024


@dataclass(frozen=True)
class FeedConfig:
    url: str
    name: str
    extract_drop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recipient:
    email: str
    topics: tuple[str, ...]
    at: time = time(7, 0)
    timezone: str = "UTC"


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    user: str = ""
    security: str = "starttls"  # "starttls" (smtp://, port 587), "ssl" (smtps://), or "none" (smtp+plain://)

    @property
    def password(self) -> str:
        return os.environ.get(ENV_SMTP_PASSWORD, "")


@dataclass(frozen=True)
class MailConfig:
    sender: str = "newsmon <newsmon@localhost>"  # the From header: one address (parse_sender)
    smtp: SmtpTarget | None = None  # None: write .eml files to <data_dir>/outbox

    @property
    def sender_address(self) -> str:
        """The envelope sender (MAIL FROM): the address in `sender`, without its display name."""
        return parse_sender(self.sender)[1]


@dataclass(frozen=True)
class Config:
    path: Path
    storage: StorageConfig
    crawl: CrawlConfig
    feeds: tuple[FeedConfig, ...]
    topics: dict[str, Topic]
    recipients: tuple[Recipient, ...]
    mail: MailConfig
    topic_sources: dict[str, str] = field(default_factory=dict)  # topic -> the query/keywords as written

    @property
    def outbox(self) -> Path:
        return self.storage.data_dir / "outbox"

    def feed(self, name: str) -> FeedConfig:
        for f in self.feeds:
            if f.name == name:
                return f
        raise KeyError(name)


# ---------------------------------------------------------------- value parsers

_DURATION = re.compile(r"^\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+(?:\.\d+)?)s)?\s*$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)?\s*$", re.IGNORECASE)


def parse_duration(text: str) -> timedelta:
    """'30m', '1h30m', '7d', '90s', '0.5s' -> timedelta; ValueError otherwise."""
    m = _DURATION.match(str(text))
    if not m or not any(m.groups()):
        raise ValueError(f"{text!r} is not a duration (use e.g. 90s, 30m, 2h, 1h30m, 7d)")
    d, h, mins, s = m.groups()
    try:
        return timedelta(days=int(d or 0), hours=int(h or 0), minutes=int(mins or 0), seconds=float(s or 0))
    except (OverflowError, ValueError):  # ValueError: int() of over 4,300 digits
        raise ValueError(f"{text!r} is too long a duration") from None


def format_duration(value: timedelta) -> str:
    """The inverse of parse_duration, for messages: 1800 s -> '30m'."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def parse_size(text: str) -> int:
    m = _SIZE.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a size (use e.g. 500KB, 10MB)")
    unit = (m.group(2) or "B").upper()
    try:
        return int(float(m.group(1)) * {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}[unit])
    except OverflowError:  # so many digits that the float is infinite
        raise ValueError(f"{text!r} is too large a size") from None


def parse_http_url(text: str) -> str:
    if not is_http_url(str(text)):
        raise ValueError(f"{text!r} is not an http(s) URL")
    return str(text).strip()


def parse_clock(text: str) -> time:
    m = re.match(r"^(\d{1,2}):(\d{2})$", str(text).strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ValueError(f'{text!r} is not a time of day (use HH:MM, e.g. "07:00")')
    return time(int(m.group(1)), int(m.group(2)))


def parse_timezone(text: str) -> str:
    try:
        ZoneInfo(str(text))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{text!r} is not a known time zone (use e.g. Europe/Kyiv, UTC)") from exc
    return str(text)


def mask_password(url: str) -> str:
    """The URL as it may be shown: whatever follows the user name in its userinfo becomes ***.
    Done on the text, not on urlsplit()'s parts, so that it holds for URLs urlsplit cannot parse
    (a password with '/' or '@' in it, a bad port, no scheme)."""
    if "@" not in url:
        return url
    left, _, host = url.rpartition("@")
    scheme = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", left)
    head = scheme.group(0) if scheme else ""
    user, colon, _ = left[len(head) :].partition(":")
    return f"{head}{user}:***@{host}" if colon else url


def parse_smtp(text: str) -> SmtpTarget:
    schemes = {"smtp": ("starttls", 587), "smtps": ("ssl", 465), "smtp+plain": ("none", 25)}
    try:
        parts = urlsplit(str(text).strip())
        given_port = parts.port  # parsed on access: a port that is no number or out of range raises
    except ValueError:
        parts, given_port = None, None
    if parts is None or parts.scheme not in schemes or not parts.hostname:
        raise ValueError(
            f"{mask_password(str(text))!r} is not an SMTP URL "
            "(smtp://[user@]host[:port], smtps://…, smtp+plain://…)"
        )
    if parts.password:
        raise ValueError(f"put the SMTP password in ${ENV_SMTP_PASSWORD}, not in the config")
    if given_port == 0 or parts.path.strip("/") or parts.query or parts.fragment:
        raise ValueError(
            f"{mask_password(str(text))!r}: an SMTP URL is scheme://[user@]host[:port] (a port from 1,"
            " no path or query: they would be ignored)"
        )
    security, port = schemes[parts.scheme]
    user = unquote(parts.username or "")  # newsmon%40example.org is the user newsmon@example.org
    return SmtpTarget(parts.hostname, given_port or port, user, security)


def parse_css_selector(text: str) -> str:
    from cssselect import GenericTranslator, SelectorError  # lazy: only configs that use extract.drop

    try:
        GenericTranslator().css_to_xpath(str(text))
    except SelectorError as exc:
        raise ValueError(f"{text!r} is not a CSS selector ({exc})") from None
    return str(text)


_ATOM = r"[^\s\x00-\x1f\x7f@<>()\[\],;:\\\".]+"  # no space, control, special or dot
_EMAIL = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*@(?:(?:{_ATOM}\.)+{_ATOM}|localhost)$")


def parse_email(text: str) -> str:
    """Exactly one bare address (user@example.org): the digest goes to this and nothing else,
    so a comma, a second address or a display name is refused, not guessed at."""
    if not _EMAIL.match(str(text).strip()):
        raise ValueError(f"{text!r} is not an email address (one address, like alice@example.org)")
    user, _, domain = str(text).strip().rpartition("@")
    if not user.isascii():  # SMTP carries it as is only with SMTPUTF8, which few servers offer
        raise ValueError(f"{text!r}: the part before @ must be plain ASCII")
    try:  # an international domain goes on the wire as its ASCII (IDNA) form
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{text!r}: {domain!r} is not a valid domain name") from None
    return f"{user}@{domain}"


_NAMED = re.compile(
    r'^(?:"(?P<quoted>(?:[^"\\\r\n]|\\[^\r\n])*)"|(?P<phrase>[^"<>()\[\]\\,;:@\r\n]*?))\s*<(?P<addr>[^<>]*)>$'
)


def parse_sender(text: str) -> tuple[str, str]:
    """mail.from: one address, bare or as `name <address>` -> (From header, envelope address).
    A display name holding a comma must be quoted, else the header reads as two addresses."""
    raw = str(text).strip()
    if "<" not in raw and ">" not in raw and _EMAIL.match(raw):
        return raw, raw
    m = _NAMED.match(raw)
    if m is None:
        raise ValueError(
            f"{text!r} is not one address (write name <address>, and quote a name holding a comma, "
            'as in "News desk, Kyiv" <news@example.org>)'
        )
    address = parse_email(m.group("addr"))
    name = re.sub(r"\\(.)", r"\1", m.group("quoted")) if m.group("quoted") is not None else m.group("phrase")
    user, _, domain = address.rpartition("@")
    return str(Address(name.strip(), user, domain)), address


# ---------------------------------------------------------------- node-tree validation


class _Reader:
    """Walks YAML nodes, converting values and collecting problems with their lines."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, key: str, node: yaml.Node | None, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else 1
        self.problems.append(Problem(self.file, key, line, message))

    def mapping(self, key: str, node: yaml.Node, allowed: set[str]) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            self.problem(key, node, f"expected a mapping, got {_kind(node)}")
            return {}
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for k, v in node.value:
            name = str(k.value)
            path = f"{key}.{name}" if key else name
            if name not in allowed:
                hint = _closest(name, allowed)
                self.problem(path, k, f"unknown key{f' (did you mean {hint!r}?)' if hint else ''}")
            elif name in out:
                self.problem(path, k, "key given twice")
            else:
                out[name] = (k, v)
        return out

    def scalar(self, key: str, node: yaml.Node, convert: Callable[[str], Any], default: Any = None) -> Any:
        if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
            self.problem(key, node, f"expected a value, got {_kind(node)}")
            return default
        try:
            return convert(node.value)
        except ValueError as exc:
            self.problem(key, node, str(exc))
            return default

    def sequence(self, key: str, node: yaml.Node) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            self.problem(key, node, f"expected a list, got {_kind(node)}")
            return []
        return list(node.value)

    def strings(self, key: str, node: yaml.Node) -> tuple[str, ...]:
        items = self.sequence(key, node)
        return tuple(
            v for i, n in enumerate(items) if (v := self.scalar(f"{key}[{i}]", n, _nonempty)) is not None
        )


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node.tag == "tag:yaml.org,2002:null":
        return "nothing"
    return f"{node.value!r}"


def _closest(name: str, allowed: set[str]) -> str | None:
    import difflib

    hits = difflib.get_close_matches(name, sorted(allowed), n=1, cutoff=0.6)
    return hits[0] if hits else None


def _nonempty(text: str) -> str:
    if not str(text).strip():
        raise ValueError("must not be empty")
    return str(text)


def _bool(text: str) -> bool:
    low = str(text).strip().lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    raise ValueError(f"{text!r} is not true or false")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise ValueError(f"{text!r} must not be negative")
    return value


def _positive_duration(text: str) -> timedelta:
    value = parse_duration(text)
    if value <= timedelta(0):
        raise ValueError(f"{text!r} must be longer than zero")
    return value


def _at_least_one(text: str) -> int:
    value = _positive_int(text)
    if value < 1:
        raise ValueError(f"{text!r} must be at least 1 (0 would allow no request at all)")
    return value


def _crawl_interval(text: str) -> timedelta:
    """From a second (the benchmarks crawl every few seconds) to a year: the scheduler's
    arithmetic on dates overflows beyond that."""
    value = parse_duration(text)
    if not timedelta(seconds=1) <= value <= timedelta(days=365):
        raise ValueError(f"{text!r} is not between 1s and 365d")
    return value


def _page_size(text: str) -> int:
    value = parse_size(text)
    if not 1024 <= value <= 1024**3:
        raise ValueError(f"{text!r} is not a page size between 1KB and 1GB")
    return value


def _feed_name_default(url: str) -> str:
    return urlsplit(url).hostname or url


# ---------------------------------------------------------------- sections


def _storage(r: _Reader, node: yaml.Node | None, base: Path) -> StorageConfig:
    uri, data_dir = "embedded", "var"
    if node is not None:
        m = r.mapping("storage", node, {"mongodb_uri", "data_dir"})
        if "mongodb_uri" in m:
            uri = r.scalar("storage.mongodb_uri", m["mongodb_uri"][1], _mongodb_uri, uri)
        if "data_dir" in m:
            data_dir = r.scalar("storage.data_dir", m["data_dir"][1], _nonempty, data_dir)
    if os.environ.get(ENV_MONGODB_URI):  # checked as the key it stands in for
        try:
            uri = _mongodb_uri(os.environ[ENV_MONGODB_URI])
        except ValueError as exc:
            r.problems.append(
                Problem(r.file, f"${ENV_MONGODB_URI}", 0, f"{exc} (it stands in for storage.mongodb_uri)")
            )
    if os.environ.get(ENV_DATA_DIR, "").strip():  # relative to the working directory, as paths given
        return StorageConfig(uri, Path(os.path.expanduser(os.environ[ENV_DATA_DIR].strip())).absolute())
    path = Path(os.path.expanduser(data_dir))
    return StorageConfig(uri, path if path.is_absolute() else (base / path))


def _mongodb_uri(text: str) -> str:
    text = str(text).strip()
    if text == "embedded" or text.startswith(("mongodb://", "mongodb+srv://")):
        return text
    raise ValueError(f"{text!r} is neither 'embedded' nor a mongodb:// URI")


_CRAWL_KEYS: dict[str, tuple[str, Callable[[str], Any]]] = {
    # config key: (CrawlConfig field, converter)
    "every": ("every", _crawl_interval),
    "user_agent": ("user_agent", _nonempty),
    "obey_robots": ("obey_robots", _bool),
    "per_site_concurrency": ("per_site_concurrency", _at_least_one),
    "concurrency": ("concurrency", _at_least_one),
    "delay": ("delay", parse_duration),
    "autothrottle": ("autothrottle", _bool),
    "timeout": ("timeout", _positive_duration),
    "retries": ("retries", _positive_int),
    "max_page_size": ("max_page_bytes", _page_size),
}


def _crawl(r: _Reader, node: yaml.Node | None) -> CrawlConfig:
    if node is None:
        return CrawlConfig()
    values: dict[str, Any] = {}
    for name, (_, v) in r.mapping("crawl", node, set(_CRAWL_KEYS)).items():
        attr, convert = _CRAWL_KEYS[name]
        value = r.scalar(f"crawl.{name}", v, convert)
        if value is not None:
            values[attr] = value
    return CrawlConfig(**values)


def _feeds(r: _Reader, node: yaml.Node | None) -> tuple[FeedConfig, ...]:
    if node is None:
        return ()
    feeds: list[FeedConfig] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(r.sequence("feeds", node)):
        key = f"feeds[{i}]"
        m = r.mapping(key, item, {"url", "name", "extract"})
        if "url" not in m:
            r.problem(f"{key}.url", item, "missing (every feed needs a url)")
            continue
        url = r.scalar(f"{key}.url", m["url"][1], parse_http_url)
        if url is None:
            continue
        name = r.scalar(f"{key}.name", m["name"][1], _nonempty) if "name" in m else None
        name = name or _feed_name_default(url)
        drop: tuple[str, ...] = ()
        if "extract" in m:
            em = r.mapping(f"{key}.extract", m["extract"][1], {"drop"})
            if "drop" in em:
                drop = tuple(
                    sel
                    for j, node in enumerate(r.sequence(f"{key}.extract.drop", em["drop"][1]))
                    if (sel := r.scalar(f"{key}.extract.drop[{j}]", node, parse_css_selector)) is not None
                )
        if name in seen:
            r.problem(f"{key}.name", item, f"feed name {name!r} is used twice (give each feed its own name)")
        seen[name] = i
        feeds.append(FeedConfig(url, name, drop))
    return tuple(feeds)


def _topics(r: _Reader, node: yaml.Node | None) -> tuple[dict[str, Topic], dict[str, str]]:
    topics: dict[str, Topic] = {}
    sources: dict[str, str] = {}
    if node is None:
        return topics, sources
    if not isinstance(node, yaml.MappingNode):
        r.problem("topics", node, f"expected a mapping of topic names, got {_kind(node)}")
        return topics, sources
    seen: set[str] = set()
    for k, v in node.value:
        name = str(k.value)
        key = f"topics.{name}"
        if not isinstance(k, yaml.ScalarNode) or not name.strip() or k.tag == "tag:yaml.org,2002:null":
            r.problem("topics", k, f"a topic name must be a word or a phrase, got {_kind(k)}")
            continue
        if name in seen:
            r.problem(key, k, "topic name given twice")
            continue
        seen.add(name)
        m = r.mapping(key, v, {"keywords", "query"})
        if ("keywords" in m) == ("query" in m):
            r.problem(key, k, "give either keywords (a list of phrases) or query (a boolean query)")
            continue
        try:
            if "keywords" in m:
                words = list(r.strings(f"{key}.keywords", m["keywords"][1]))
                if not words:
                    r.problem(f"{key}.keywords", m["keywords"][1], "needs at least one phrase")
                    continue
                if _query_syntax_in_keywords(r, key, m["keywords"][1]):
                    continue
                topics[name] = compile_topic(name, keywords=words)
                sources[name] = " OR ".join(f'"{w}"' for w in words)
            else:
                qnode = m["query"][1]
                query = r.scalar(f"{key}.query", qnode, _nonempty)
                if query is None:
                    continue
                topics[name] = compile_topic(name, query=query)
                sources[name] = query
        except QueryError as exc:
            field_name = "keywords" if "keywords" in m else "query"
            r.problem(f"{key}.{field_name}", m[field_name][1], str(exc))
    return topics, sources


# What only a query means: a prefix star, an exclusion, an operator, a field. In a keyword it
# would silently be a word (``negotiat*`` the word "negotiat", ``-baseball`` the word "baseball").
_QUERY_SYNTAX = re.compile(
    r"(?P<star>\w\*)|(?:^|\s)(?P<minus>-)\w|\b(?P<op>AND|OR|NOT|NEAR/\d+)\b|\b(?P<field>title:|site:)"
)


def _query_syntax_in_keywords(r: _Reader, key: str, node: yaml.Node) -> bool:
    """Refuse keywords written as queries (keywords are plain phrases); True if any was."""
    found = False
    for i, item in enumerate(node.value if isinstance(node, yaml.SequenceNode) else ()):
        if isinstance(item, yaml.ScalarNode) and (m := _QUERY_SYNTAX.search(item.value)):
            syntax = {"star": "a prefix *", "minus": "an exclusion -"}.get(
                m.lastgroup or "", m.group().strip()
            )
            r.problem(
                f"{key}.keywords[{i}]",
                item,
                f"{item.value!r} uses query syntax ({syntax}), but keywords are plain phrases: "
                "write it as the topic's query instead (or in lower case, if you mean the words)",
            )
            found = True
    return found


def _recipients(r: _Reader, node: yaml.Node | None, topics: set[str]) -> tuple[Recipient, ...]:
    if node is None:
        return ()
    out: list[Recipient] = []
    seen: dict[str, tuple[int, int]] = {}  # lower-cased email -> (index, line) of its first entry
    for i, item in enumerate(r.sequence("recipients", node)):
        key = f"recipients[{i}]"
        m = r.mapping(key, item, {"email", "topics", "at", "timezone"})
        if "email" not in m:
            r.problem(f"{key}.email", item, "missing (every recipient needs an email)")
            continue
        enode = m["email"][1]
        email = r.scalar(f"{key}.email", enode, parse_email)
        if email and email.lower() in seen:  # one job and one digest a day per address: merge them
            first, line = seen[email.lower()]
            r.problem(
                f"{key}.email",
                enode,
                f"{email!r} is recipients[{first}] (line {line}) again: list each address once, "
                "with all its topics",
            )
            email = None  # its other keys are still checked
        if email:
            seen[email.lower()] = (i, enode.start_mark.line + 1)
        names: tuple[str, ...] = ()
        if "topics" in m:
            tnode = m["topics"][1]
            names = r.strings(f"{key}.topics", tnode)
            if not names and isinstance(tnode, yaml.SequenceNode):  # would never be mailed anything
                r.problem(f"{key}.topics", tnode, "empty (name at least one topic this recipient watches)")
            for j, name in enumerate(names):
                if name not in topics:
                    hint = _closest(name, topics)
                    r.problem(
                        f"{key}.topics[{j}]",
                        tnode.value[j],
                        f"unknown topic {name!r}{f' (did you mean {hint!r}?)' if hint else ''}",
                    )
        else:
            r.problem(f"{key}.topics", item, "missing (name the topics this recipient watches)")
        at = r.scalar(f"{key}.at", m["at"][1], parse_clock) if "at" in m else time(7, 0)
        tz = r.scalar(f"{key}.timezone", m["timezone"][1], parse_timezone) if "timezone" in m else "UTC"
        if email and at and tz:
            out.append(Recipient(email, names, at, tz))
    return tuple(out)


def _mail(r: _Reader, node: yaml.Node | None) -> MailConfig:
    if node is None:
        return MailConfig()
    m = r.mapping("mail", node, {"from", "smtp"})
    parsed = r.scalar("mail.from", m["from"][1], parse_sender) if "from" in m else None
    smtp = None
    if "smtp" in m and m["smtp"][1].tag != "tag:yaml.org,2002:null":
        smtp = r.scalar("mail.smtp", m["smtp"][1], parse_smtp)
    return MailConfig(parsed[0] if parsed else MailConfig.sender, smtp)


_TOP_KEYS = {"storage", "crawl", "feeds", "topics", "recipients", "mail"}


def _yaml_problem(file: str, exc: yaml.YAMLError) -> Problem:
    """Where the YAML went wrong, as a user would look for it: a quote or bracket never closed
    is reported where it opens (PyYAML's problem is at the end of the file, its context there)."""
    mark, context_mark = getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)
    problem, context = getattr(exc, "problem", None) or str(exc), getattr(exc, "context", None)
    line = mark.line + 1 if mark else 1
    message = f"not valid YAML: {problem}"
    if context and context_mark and "end of stream" in problem:
        line = context_mark.line + 1
        message = f"not valid YAML: {context} that is never closed ({problem})"
    elif problem.startswith("expected <block end>, but found '<scalar>'"):
        message += " (a value that starts with a quote must end with it: quote all of it)"
    elif context and context_mark and mark and context_mark.line != mark.line:
        message += f" ({context} that starts on line {context_mark.line + 1})"
    return Problem(file, "", line, message)


def parse_config(text: str, path: Path) -> Config:
    """Parse and validate config text; raise ConfigError listing every problem."""
    file = str(path)
    r = _Reader(file)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError([_yaml_problem(file, exc)]) from None
    if root is None:
        raise ConfigError([Problem(file, "", 1, "the file is empty (run `newsmon init` for an example)")])
    sections = r.mapping("", root, _TOP_KEYS)
    node = {name: kv[1] for name, kv in sections.items()}
    base = path.resolve().parent
    storage = _storage(r, node.get("storage"), base)
    crawl = _crawl(r, node.get("crawl"))
    feeds = _feeds(r, node.get("feeds"))
    topics, sources = _topics(r, node.get("topics"))
    recipients = _recipients(r, node.get("recipients"), set(topics) | _failed_topic_names(node.get("topics")))
    mail = _mail(r, node.get("mail"))
    if r.problems:
        raise ConfigError(sorted(r.problems, key=lambda p: p.line))
    return Config(path, storage, crawl, feeds, topics, recipients, mail, sources)


def _failed_topic_names(node: yaml.Node | None) -> set[str]:
    """Topics that exist but failed to compile: recipients naming them are not also 'unknown'."""
    if not isinstance(node, yaml.MappingNode):
        return set()
    return {str(k.value) for k, _ in node.value}


def find_config(explicit: str | None) -> Path:
    """--config, else $MONITOR_CONFIG, else ./monitor.yaml."""
    return Path(explicit or os.environ.get(ENV_CONFIG) or DEFAULT_CONFIG)


def load_config(explicit: str | None = None) -> Config:
    path = find_config(explicit)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [Problem(str(path), "", 1, "no such config file (run `newsmon init` to write an example)")]
        ) from None
    except UnicodeDecodeError as exc:  # the line of the bad byte, not its offset
        line = exc.object[: exc.start].count(b"\n") + 1
        byte = exc.object[exc.start : exc.start + 1].hex()
        message = f"not UTF-8: byte 0x{byte} (save the file as UTF-8)"
        raise ConfigError([Problem(str(path), "", line, message)]) from None
    except OSError as exc:
        raise ConfigError([Problem(str(path), "", 1, f"cannot read: {exc}")]) from None
    return parse_config(text, path)
