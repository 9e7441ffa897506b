"""Config errors name the file, the key path and the line; a good config loads typed."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from monitor.config import ConfigError, load_config, parse_config

GOOD = """\
storage:
  mongodb_uri: embedded
  data_dir: var
crawl:
  every: 30m
feeds:
  - url: https://example.org/world/rss.xml
    name: example-world
  - url: https://news.example.com/feed.atom
topics:
  ceasefire:
    keywords: ["ceasefire talks", "cease-fire negotiations", truce]
  kursk:
    query: 'Kursk (offensive OR advance) -baseball'
recipients:
  - email: alice@example.org
    topics: [ceasefire, kursk]
    at: "07:00"
    timezone: Europe/Kyiv
mail:
  from: "newsmon <newsmon@example.org>"
  smtp: smtp://user@smtp.example.org:587
"""


def problems(text: str, tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, tmp_path / "monitor.yaml")
    return [str(p) for p in info.value.problems]


def test_good_config_loads_typed(tmp_path, monkeypatch):
    monkeypatch.delenv("MONITOR_MONGODB_URI", raising=False)
    config = parse_config(GOOD, tmp_path / "monitor.yaml")
    assert config.crawl.every == timedelta(minutes=30)
    assert [f.name for f in config.feeds] == [
        "example-world",
        "news.example.com",
    ]  # name defaults to the host
    assert set(config.topics) == {"ceasefire", "kursk"}
    assert config.recipients[0].at == time(7, 0) and config.recipients[0].timezone == "Europe/Kyiv"
    assert config.mail.smtp.host == "smtp.example.org" and config.mail.smtp.user == "user"
    assert config.storage.embedded and config.storage.data_dir == tmp_path / "var"  # relative to the file


def test_environment_overrides_uri(tmp_path, monkeypatch):
    monkeypatch.setenv("MONITOR_MONGODB_URI", "mongodb://db.internal:27017/news")
    assert parse_config(GOOD, tmp_path / "m.yaml").storage.mongodb_uri == "mongodb://db.internal:27017/news"


def test_environment_moves_the_data_dir(tmp_path, monkeypatch):
    """A container mounts the config read-only: its data (database, outbox, delivery journal)
    goes to a volume named by the environment, whatever the config says."""
    monkeypatch.setenv("MONITOR_DATA_DIR", str(tmp_path / "volume"))
    assert parse_config(GOOD, tmp_path / "m.yaml").storage.data_dir == tmp_path / "volume"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MONITOR_DATA_DIR", "data")  # relative: to where the command runs, as a path given
    assert parse_config(GOOD, tmp_path / "conf" / "m.yaml").storage.data_dir == tmp_path / "data"
    monkeypatch.setenv("MONITOR_DATA_DIR", "")
    assert parse_config(GOOD, tmp_path / "m.yaml").storage.data_dir == tmp_path / "var"


def test_a_bad_uri_in_the_environment_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MONITOR_MONGODB_URI", "EMBEDDED")
    assert problems(GOOD, tmp_path) == [
        "$MONITOR_MONGODB_URI: 'EMBEDDED' is neither 'embedded' nor a mongodb:// URI"
        " (it stands in for storage.mongodb_uri)"
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("  every: 30m", "  evry: 30m", "monitor.yaml:5: crawl.evry: unknown key (did you mean 'every'?)"),
        ("  every: 30m", "  every: soon", "monitor.yaml:5: crawl.every: 'soon' is not a duration"),
        (
            "  - url: https://example.org/world/rss.xml",
            "  - url: ftp://example.org/rss",
            "monitor.yaml:7: feeds[0].url: 'ftp://example.org/rss' is not an http(s) URL",
        ),
        (
            "    timezone: Europe/Kyiv",
            "    timezone: Europe/Kiev2",
            "monitor.yaml:19: recipients[0].timezone: 'Europe/Kiev2' is not a known time zone",
        ),
        (
            '    at: "07:00"',
            '    at: "25:00"',
            "monitor.yaml:18: recipients[0].at: '25:00' is not a time of day",
        ),
        (
            "    topics: [ceasefire, kursk]",
            "    topics: [ceasefire, kursks]",
            "monitor.yaml:17: recipients[0].topics[1]: unknown topic 'kursks' (did you mean 'kursk'?)",
        ),
        (
            "    query: 'Kursk (offensive OR advance) -baseball'",
            "    query: 'Kursk (offensive OR advance'",
            "monitor.yaml:14: topics.kursk.query: ",
        ),
        ("  every: 30m", "  every: [30m]", "monitor.yaml:5: crawl.every: expected a value, got a list"),
        (  # keywords are phrases: query syntax in one would silently be a word ("negotiat")
            '    keywords: ["ceasefire talks", "cease-fire negotiations", truce]',
            '    keywords: ["ceasefire talks", "negotiat*", "war OR truce", -baseball, C++, cease-fire]',
            "monitor.yaml:12: topics.ceasefire.keywords[1]: 'negotiat*' uses query syntax (a prefix *), "
            "but keywords are plain phrases: write it as the topic's query instead",
        ),
        (
            '    keywords: ["ceasefire talks", "cease-fire negotiations", truce]',
            '    keywords: ["ceasefire talks", "war OR truce"]',
            "monitor.yaml:12: topics.ceasefire.keywords[1]: 'war OR truce' uses query syntax (OR)",
        ),
        (
            '    keywords: ["ceasefire talks", "cease-fire negotiations", truce]',
            '    keywords: ["ceasefire talks", "cease-fire talks", -baseball]',
            "monitor.yaml:12: topics.ceasefire.keywords[2]: '-baseball' uses query syntax (an exclusion -)",
        ),
        (
            "  smtp: smtp://user@smtp.example.org:587",
            "  smtp: smtp://user:secret@smtp.example.org:587",
            "monitor.yaml:22: mail.smtp: put the SMTP password in $MONITOR_SMTP_PASSWORD",
        ),
        (
            "  - email: alice@example.org",
            "  - email: alice",
            "monitor.yaml:16: recipients[0].email: 'alice' is not",
        ),
        (
            "    name: example-world",
            "    name: example-world\n    extract: {drop: [aside, 'div[[']}",
            "monitor.yaml:9: feeds[0].extract.drop[1]: 'div[[' is not a CSS selector",
        ),
        # found by fuzzing the example config: these raised out of the loader, or passed
        (
            "  every: 30m",
            "  every: 99999999999999999999d",
            "monitor.yaml:5: crawl.every: '99999999999999999999d' is too long a duration",
        ),
        (
            "  every: 30m",
            "  every: " + "9" * 5000 + "m",
            "monitor.yaml:5: crawl.every: '" + "9" * 5000 + "m' is too long a duration",
        ),
        (
            "  every: 30m",
            "  every: 30m\n  max_page_size: " + "9" * 400 + "MB",
            "monitor.yaml:6: crawl.max_page_size: '" + "9" * 400 + "MB' is too large a size",
        ),
        (
            "  - url: https://example.org/world/rss.xml",
            "  - url: https://example.org:rss/world.xml",
            "monitor.yaml:7: feeds[0].url: 'https://example.org:rss/world.xml' is not an http(s) URL",
        ),
        (
            "  smtp: smtp://user@smtp.example.org:587",
            "  smtp: smtp://user@smtp.example.org:5870000",
            "monitor.yaml:22: mail.smtp: 'smtp://user@smtp.example.org:5870000' is not an SMTP URL",
        ),
        # found by the mail review: these passed, and were mailed to (or from) a wrong address
        (
            "  - email: alice@example.org",
            "  - email: alice@example.org,example.net",
            "monitor.yaml:16: recipients[0].email: 'alice@example.org,example.net' is not an email address",
        ),
        (
            "  - email: alice@example.org",
            "  - email: Alice <alice@example.org>",
            "monitor.yaml:16: recipients[0].email: 'Alice <alice@example.org>' is not an email address",
        ),
        (
            '  from: "newsmon <newsmon@example.org>"',
            '  from: "News monitor, Kyiv desk <newsmon@example.org>"',
            "monitor.yaml:21: mail.from: 'News monitor, Kyiv desk <newsmon@example.org>' is not one address",
        ),
        (
            '  from: "newsmon <newsmon@example.org>"',
            '  from: "newsmon@example.org, other@example.org"',
            "monitor.yaml:21: mail.from: 'newsmon@example.org, other@example.org' is not one address",
        ),
        (
            '  from: "newsmon <newsmon@example.org>"',
            '  from: "newsmon <newsmon>"',
            "monitor.yaml:21: mail.from: 'newsmon' is not an email address",
        ),
        (
            "    timezone: Europe/Kyiv",
            "    timezone: Europe/Kyiv\n  - email: Alice@Example.org\n    topics: [kursk]",
            "monitor.yaml:20: recipients[1].email: 'Alice@Example.org' is recipients[0] (line 16) again",
        ),
        # values that would hang a crawl or crash later
        (
            "  every: 30m",
            "  every: 30m\n  per_site_concurrency: 0",
            "monitor.yaml:6: crawl.per_site_concurrency: '0' must be at least 1",
        ),
        (
            "  every: 30m",
            "  every: 30m\n  concurrency: 0",
            "monitor.yaml:6: crawl.concurrency: '0' must be at least 1",
        ),
        (
            "  every: 30m",
            "  every: 999999999d",
            "monitor.yaml:5: crawl.every: '999999999d' is not between 1s and 365d",
        ),
        (
            "  every: 30m",
            "  every: 0.0001s",
            "monitor.yaml:5: crawl.every: '0.0001s' is not between 1s and 365d",
        ),
        (
            "  every: 30m",
            "  every: 30m\n  max_page_size: 0",
            "monitor.yaml:6: crawl.max_page_size: '0' is not a page size between 1KB and 1GB",
        ),
        (
            "  every: 30m",
            "  every: 30m\n  max_page_size: 99999999999GB",
            "monitor.yaml:6: crawl.max_page_size: '99999999999GB' is not a page size between 1KB and 1GB",
        ),
        (
            "  - email: alice@example.org",
            "  - email: алиса@example.org",
            "monitor.yaml:16: recipients[0].email: 'алиса@example.org': the part before @ must be plain",
        ),
        (
            "  kursk:\n",
            "  ceasefire:\n    query: truce\n  kursk:\n",
            "monitor.yaml:13: topics.ceasefire: topic name given twice",
        ),
        (
            "  kursk:\n",
            '  "":\n    query: truce\n  kursk:\n',
            "monitor.yaml:13: topics: a topic name must be",
        ),
        ("  kursk:\n", "  ~:\n    query: truce\n  kursk:\n", "monitor.yaml:13: topics: a topic name must be"),
        ("    topics: [ceasefire, kursk]", "    topics: []", "monitor.yaml:17: recipients[0].topics: empty"),
        (
            "  - url: https://example.org/world/rss.xml",
            "  - url: http://exa mple.org/world/rss.xml",
            "monitor.yaml:7: feeds[0].url: 'http://exa mple.org/world/rss.xml' is not an http(s) URL",
        ),
        (
            "  smtp: smtp://user@smtp.example.org:587",
            "  smtp: smtp://user@smtp.example.org:0",
            "monitor.yaml:22: mail.smtp: 'smtp://user@smtp.example.org:0': an SMTP URL is",
        ),
        (
            "  smtp: smtp://user@smtp.example.org:587",
            "  smtp: smtp://user@smtp.example.org:587/relay?tls=no",
            "monitor.yaml:22: mail.smtp: 'smtp://user@smtp.example.org:587/relay?tls=no': an SMTP URL is",
        ),
    ],
)
def test_each_error_names_file_key_and_line(tmp_path, old, new, expected):
    assert old in GOOD
    found = problems(GOOD.replace(old, new), tmp_path)
    assert any(p.startswith(f"{tmp_path}/{expected}") for p in found), found


@pytest.mark.parametrize(
    "url",
    [
        "smtp://newsmon:hunter2@mail.example.org:submission",
        "smtp://newsmon:hunter2@mail.example.org:5870000",
        "stmp://newsmon:hunter2@mail.example.org",
        "smtps://newsmon:hunter2@",
        "smtp://newsmon:hun/ter2@mail.example.org",
        "smtp://newsmon:hunter2@[mail.example.org",
        "newsmon:hunter2@mail.example.org",
    ],
)
def test_a_password_in_the_smtp_url_is_never_shown(tmp_path, url):
    found = problems(GOOD.replace("smtp://user@smtp.example.org:587", url), tmp_path)
    assert len(found) == 1 and found[0].startswith(f"{tmp_path}/monitor.yaml:22: mail.smtp: ")
    assert "hunter2" not in found[0] and "hun/ter2" not in found[0] and "***" in found[0], found


def test_mail_addresses_are_parsed(tmp_path):
    text = GOOD.replace(
        '"newsmon <newsmon@example.org>"', """'"News monitor, Kyiv desk" <news@example.org>'"""
    )
    text = text.replace("smtp://user@", "smtp+plain://newsmon%40example.org@")
    mail = parse_config(text, tmp_path / "monitor.yaml").mail
    assert mail.sender == '"News monitor, Kyiv desk" <news@example.org>'
    assert mail.sender_address == "news@example.org"
    assert mail.smtp.user == "newsmon@example.org"  # percent-decoded
    bare = parse_config(
        GOOD.replace('"newsmon <newsmon@example.org>"', "news@example.org"), tmp_path / "m.yaml"
    )
    assert bare.mail.sender == bare.mail.sender_address == "news@example.org"


def test_all_problems_reported_at_once(tmp_path):
    text = GOOD.replace("every: 30m", "every: often").replace("Europe/Kyiv", "Mars/Base")
    assert len(problems(text, tmp_path)) == 2


def test_query_error_points_at_the_column(tmp_path):
    text = GOOD.replace("'Kursk (offensive OR advance) -baseball'", "'Kursk (offensive OR advance'")
    message = problems(text, tmp_path)[0]
    assert "Kursk (offensive OR advance" in message and "^" in message


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(str(tmp_path / "absent.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("feeds:\n  - url: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_config(str(bad))
    assert info.value.problems[0].file == str(bad) and "not valid YAML" in info.value.problems[0].message


def test_example_config_is_valid(monkeypatch):
    monkeypatch.delenv("MONITOR_MONGODB_URI", raising=False)
    config = load_config(str(Path(__file__).resolve().parents[1] / "monitor" / "example.yaml"))
    assert config.recipients and config.topics and config.feeds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'crawl:\n  user_agent: "abc\n  every: 30m\nfeeds: []\n',
            "monitor.yaml:2: (top level): not valid YAML: while scanning a quoted scalar that is never"
            " closed (found unexpected end of stream)",
        ),
        (
            'topics:\n  k:\n    query: "kursk" AND offensive\n',
            "monitor.yaml:3: (top level): not valid YAML: expected <block end>, but found '<scalar>'"
            " (a value that starts with a quote must end with it: quote all of it)",
        ),
        (
            "feeds: [a, b\ntopics: {}\n",
            "monitor.yaml:2: (top level): not valid YAML: expected ',' or ']', but got ':'"
            " (while parsing a flow sequence that starts on line 1)",
        ),
    ],
)
def test_yaml_errors_point_where_the_user_should_look(tmp_path, text, expected):
    assert problems(text, tmp_path) == [f"{tmp_path}/{expected}"]


def test_a_file_not_in_utf8_names_the_line_of_the_bad_byte(tmp_path):
    path = tmp_path / "monitor.yaml"
    path.write_bytes(b"crawl:\n  every: 30m\n  user_agent: caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert [str(p) for p in info.value.problems] == [
        f"{path}:3: (top level): not UTF-8: byte 0xe9 (save the file as UTF-8)"
    ]


def test_an_international_domain_is_mailed_in_its_ascii_form(tmp_path):
    text = GOOD.replace("alice@example.org", "alice@exämple.org").replace(
        '"newsmon <newsmon@example.org>"', '"Ünïcode Name <nm@exämple.org>"'
    )
    config = parse_config(text, tmp_path / "monitor.yaml")
    assert config.recipients[0].email == "alice@xn--exmple-cua.org"
    assert config.mail.sender_address == "nm@xn--exmple-cua.org"
