"""Canonical article URLs: one article reached through many links is stored once."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

# Query parameters that only say where a click came from.
TRACKING_PARAMS = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|mc_cid|mc_eid|igshid|_ga|_gl|"
    r"ocid|cmpid|ito|icid|at_medium|at_campaign|at_custom\d*|ns_mchannel|ns_source|ns_campaign|"
    r"ns_linkname|ns_fee|rss|ref|ref_src|smid|partner|taid|xtor|wt\.mc_id|__twitter_impression)$",
    re.IGNORECASE,
)
DEFAULT_PORTS = {"http": 80, "https": 443}


def is_http_url(url: str) -> bool:
    """An absolute http(s) URL with a host that urllib can take apart (a port, if any, a number
    in range): what may be fetched, and what `canonical_url` accepts."""
    try:
        parts = urlsplit(url.strip())
        _ = parts.port  # parsed on access: raises for a port that is no number or out of range
    except ValueError:  # that, or an unbalanced IPv6 bracket
        return False
    host = parts.hostname or ""
    return parts.scheme.lower() in DEFAULT_PORTS and bool(host) and not any(c.isspace() for c in host)


def canonical_url(url: str) -> str:
    """Normalise scheme/host case, default ports, fragments, dot segments and tracking parameters.

    Deliberately conservative: the path keeps its case and the query keeps its order, since
    sites do serve different articles for those. Raises ValueError for a URL that urllib cannot
    take apart: check links from outside with `is_http_url` first.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    host = ascii_host(host)
    port = parts.port
    netloc = host if port in (None, DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    path = _clean_path(parts.path)
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING_PARAMS.match(k)],
        doseq=True,
    )
    return urlunsplit((scheme, netloc, path or "/", query, ""))


def ascii_host(host: str) -> str:
    """The host as DNS and stored URLs spell it (``bücher.de`` -> ``xn--bcher-kva.de``)."""
    try:
        return host.encode("idna").decode("ascii") if host else host
    except UnicodeError:
        return host  # not IDNA-encodable: keep it as written


def _clean_path(path: str) -> str:
    segments: list[str] = []
    for seg in path.split("/"):
        if seg == "..":
            if len(segments) > 1:
                segments.pop()
        elif seg != ".":
            segments.append(seg)
    cleaned = "/".join(segments)
    # one spelling of percent-escapes: decode what need not be escaped, escape what must be
    return quote(unquote(cleaned), safe="/:@!$&'()*+,;=~-._%")


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()
