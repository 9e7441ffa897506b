"""The other commands as a user runs them: init, check, export, feeds, scrapy crawl, and pages
that are too large or in a legacy encoding."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from conftest import REPO, newsmon, write_config
from test_end_to_end import config_text

from monitor.sample_site.server import Reply

pytestmark = pytest.mark.slow
NO_FETCH = [("example", "https://news.example.org/rss.xml")]  # check never fetches feeds


def test_init_writes_a_valid_example_and_refuses_to_overwrite(tmp_path):
    config = tmp_path / "monitor.yaml"
    assert newsmon(config, "init").returncode == 0
    assert "topics:" in config.read_text()
    again = newsmon(config, "init")
    assert again.returncode == 1 and "exists" in again.stderr
    # a first `check` passes as written: mail goes to the outbox, no example.org SMTP server is tried
    check = newsmon(config, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "mail: no smtp configured: digests are written to the outbox folder" in check.stdout


def test_config_error_exits_2_naming_file_key_and_line(tmp_path):
    config = write_config(tmp_path / "monitor.yaml", "crawl:\n  every: sometimes\n")
    done = newsmon(config, "crawl")
    assert done.returncode == 2
    assert f"{config}:2: crawl.every: 'sometimes' is not a duration" in done.stderr


def test_check_reports_database_mail_and_schedule(tmp_path, smtp, mongo_uri):
    _, port = smtp
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", NO_FETCH, port))
    done = newsmon(config, "check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "database (MongoDB): ok" in done.stdout
    assert f"mail: ok (127.0.0.1:{port}" in done.stdout
    assert "digest to alice@example.org daily at 07:00 Europe/Kyiv" in done.stdout


def _zone_where_local_time(ok) -> str:
    """A fixed-offset zone in which the local time now satisfies `ok` (12 h apart: one fits)."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    for zone in ("UTC", "Etc/GMT-12", "Etc/GMT+12"):
        if ok(datetime.now(UTC).astimezone(ZoneInfo(zone)).time()):
            return zone
    raise AssertionError("no zone fits")  # pragma: no cover - the three are 12 h apart


def test_check_says_a_digest_is_due_now_when_a_run_would_send_it(tmp_path, mongo_uri):
    """A recipient whose `at` has passed today and whose digest has not gone out gets it at the
    next `digest` or crawl of `run`: `check` said "next" tomorrow."""
    from datetime import time as clock

    past = _zone_where_local_time(lambda t: t >= clock(0, 30))
    later = _zone_where_local_time(lambda t: t < clock(23, 30))
    recipients = (
        f'    at: "00:00"\n    timezone: {past}\n'
        f'  - email: bob@example.org\n    topics: [kursk]\n    at: "23:59"\n    timezone: {later}\n'
    )
    text = config_text(mongo_uri, tmp_path / "var", NO_FETCH, None)
    text = text.replace('    at: "07:00"\n    timezone: Europe/Kyiv\n', recipients)
    done = newsmon(write_config(tmp_path / "monitor.yaml", text), "check")
    assert done.returncode == 0, done.stdout + done.stderr
    alice, bob = (line for line in done.stdout.splitlines() if line.startswith("  digest to "))
    assert (
        f"daily at 00:00 {past} (ceasefire, kursk); next: due now (today's has not gone out), then " in alice
    )
    assert "due now" not in bob and f"daily at 23:59 {later} (kursk); next: " in bob


def test_check_fails_when_smtp_is_unreachable(tmp_path, mongo_uri):
    from test_end_to_end import dead_port

    text = config_text(mongo_uri, tmp_path / "var", NO_FETCH, dead_port())
    done = newsmon(write_config(tmp_path / "monitor.yaml", text), "check")
    assert done.returncode == 1 and "mail: FAILED" in done.stdout


def test_export_and_feeds_after_a_crawl(tmp_path, site, mongo_uri):
    feeds = [("world", site.url("/feeds/world.xml")), ("ua", site.url("/feeds/ua.rdf"))]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, None))
    assert newsmon(config, "crawl").returncode == 0
    rows = [json.loads(line) for line in newsmon(config, "export", "--since", "1d").stdout.splitlines()]
    assert len(rows) == 5
    assert set(rows[0]) == {"url", "title", "text", "published", "feed", "topics"}
    kursk = [r for r in rows if r["topics"] == ["kursk"]]
    assert len(kursk) == 1 and "Getty Images" not in kursk[0]["text"] and "Baseball" not in kursk[0]["text"]
    only = newsmon(config, "export", "--topic", "ceasefire").stdout.splitlines()
    assert len(only) == 2
    table = newsmon(config, "feeds").stdout.splitlines()
    assert table[0].split()[:2] == ["feed", "last"]
    assert [line.split()[0] for line in table[1:]] == ["world", "ua"]
    assert table[1].split()[-1] == "3" and table[2].split()[-1] == "2"
    # a reader that is gone before the output comes (`newsmon export | head -0`): no traceback
    cmd = [sys.executable, "-m", "monitor", "--config", str(config), "export"]
    gone = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    gone.stdout.close()
    assert "Traceback" not in gone.communicate(timeout=60)[1].decode()
    assert gone.returncode == 1


def test_a_verbose_crawl_logs_scrapys_info_lines_and_a_quiet_one_none(tmp_path, site, mongo_uri):
    feeds = [("world", site.url("/feeds/world.xml"))]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, None))
    quiet = newsmon(config, "crawl")
    assert quiet.returncode == 0, quiet.stderr
    assert " INFO" not in quiet.stderr and " DEBUG" not in quiet.stderr
    loud = newsmon(config, "-v", "crawl")
    assert loud.returncode == 0, loud.stderr
    assert "[scrapy.core.engine] INFO: Spider opened" in loud.stderr
    assert "[scrapy.core.engine] INFO: Spider closed (finished)" in loud.stderr
    assert " DEBUG" not in loud.stderr  # -v is INFO: Scrapy's per-request lines stay out


def test_scrapy_crawl_feeds_runs_the_same_crawl(tmp_path, site, mongo_uri):
    feeds = [("world", site.url("/feeds/world.xml"))]
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", feeds, None))
    scrapy = REPO / ".venv" / "bin" / "scrapy"
    if not scrapy.exists():
        pytest.skip("scrapy is not installed in .venv (run make setup)")

    def scrapy_crawl(config_path):
        env = {**os.environ, "MONITOR_CONFIG": str(config_path)}
        return subprocess.run(
            [str(scrapy), "crawl", "feeds"], cwd=REPO, capture_output=True, text=True, timeout=180, env=env
        )

    done = scrapy_crawl(config)
    assert done.returncode == 0, done.stderr
    assert "'newsmon/new_articles': 3" in done.stderr
    assert len(newsmon(config, "export").stdout.splitlines()) == 3
    broken = write_config(tmp_path / "broken.yaml", "crawl:\n  every: sometimes\n")
    done = scrapy_crawl(broken)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"{broken}:2: crawl.every: 'sometimes' is not a duration" in done.stderr


def test_oversized_and_legacy_encoded_pages(tmp_path, site, mongo_uri):
    cp1251 = (
        "<html><head><meta charset='windows-1251'><title>Перемирие в Женеве</title></head><body><article>"
        "<h1>Перемирие в Женеве</h1><p>Дипломаты сообщили, что переговоры о прекращении огня продолжатся "
        "на следующей неделе в Женеве, а перемирие на участке фронта пока соблюдается.</p>"
        "<p>По словам представителя ООН, стороны согласовали механизм контроля и обмен пленными.</p>"
        "</article></body></html>"
    ).encode("cp1251")
    huge = b"<html><body><p>" + b"x" * (2 * 1024 * 1024) + b"</p></body></html>"
    site.routes["/news/ru.html"] = Reply(200, cp1251, {"Content-Type": "text/html"})  # no charset in header
    site.routes["/news/huge.html"] = Reply(200, huge, {"Content-Type": "text/html; charset=utf-8"})
    rss = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title><link>/</link>'
        "<item><title>Перемирие в Женеве</title><link>/news/ru.html</link><guid>ru</guid></item>"
        "<item><title>Live blog</title><link>/news/huge.html</link><guid>huge</guid>"
        "<description>Live: the truce held overnight.</description></item></channel></rss>"
    ).encode()
    site.routes["/feeds/mixed.xml"] = Reply(200, rss, {"Content-Type": "application/rss+xml"})
    text = config_text(mongo_uri, tmp_path / "var", [("mixed", site.url("/feeds/mixed.xml"))], None)
    text = text.replace("  retries: 1\n", "  retries: 1\n  max_page_size: 1MB\n")
    text = text.replace("truce, ", 'truce, "перемирие", ')
    config = write_config(tmp_path / "monitor.yaml", text)
    done = newsmon(config, "crawl")
    assert done.returncode == 0, done.stderr
    assert "new articles: 2" in done.stdout and "new matches: 2" in done.stdout
    rows = {r["title"]: r for r in map(json.loads, newsmon(config, "export").stdout.splitlines())}
    assert "переговоры о прекращении огня" in rows["Перемирие в Женеве"]["text"]
    assert rows["Live blog"]["text"] == "Live: the truce held overnight."  # too large: the feed's text


def test_per_site_drop_selectors_reach_the_crawl(tmp_path, site, mongo_uri):
    page = (
        b"<html lang='en'><head><title>Grain deal extended</title></head><body><article>"
        b"<h1>Grain deal extended</h1>"
        b"<p>The grain export agreement was extended for another four months on Monday, officials said.</p>"
        b"<div class='partner-box'><p>Partner content: Discover the best grain futures broker today and save "
        b"on every single trade you make this quarter.</p></div>"
        b"<p>Shipping companies welcomed the decision, which keeps the Black Sea corridor open for now.</p>"
        b"</article></body></html>"
    )
    site.routes["/news/grain.html"] = Reply(200, page, {"Content-Type": "text/html; charset=utf-8"})
    rss = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>/</link>'
        b"<item><title>Grain deal extended</title><link>/news/grain.html</link><guid>g</guid></item>"
        b"</channel></rss>"
    )
    site.routes["/feeds/grain.xml"] = Reply(200, rss, {"Content-Type": "application/rss+xml"})
    text = config_text(mongo_uri, tmp_path / "var", [("grain", site.url("/feeds/grain.xml"))], None)
    text = text.replace("    name: grain\n", "    name: grain\n    extract:\n      drop: ['.partner-box']\n")
    config = write_config(tmp_path / "monitor.yaml", text)
    assert newsmon(config, "crawl").returncode == 0
    (row,) = map(json.loads, newsmon(config, "export").stdout.splitlines())
    assert "extended for another four months" in row["text"] and "Black Sea corridor" in row["text"]
    assert "futures broker" not in row["text"]


def test_unreachable_database_is_a_clear_error(tmp_path):
    from test_end_to_end import dead_port

    uri = f"mongodb://127.0.0.1:{dead_port()}/newsmon"
    config = write_config(tmp_path / "monitor.yaml", config_text(uri, tmp_path / "var", NO_FETCH, None))
    done = newsmon(config, "digest", "--now")
    assert done.returncode == 1
    assert "newsmon: database error:" in done.stderr and "Traceback" not in done.stderr


def test_a_data_dir_that_cannot_hold_the_embedded_database_is_a_clear_error(tmp_path):
    data = tmp_path / "var"
    data.mkdir()
    (data / "db").write_text("a file where the database directory should be")
    config = write_config(tmp_path / "monitor.yaml", config_text("embedded", data, NO_FETCH, None))
    done = newsmon(config, "crawl")
    assert done.returncode == 1
    assert f"newsmon: database error: cannot run the embedded database in {data / 'db'}: " in done.stderr
    assert "Traceback" not in done.stderr
    checked = newsmon(config, "check")
    assert checked.returncode == 1 and "database: FAILED: cannot run the embedded database" in checked.stdout


def test_bad_arguments_are_one_line_errors_and_a_huge_period_means_everything(tmp_path, mongo_uri):
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", NO_FETCH, None))
    for args, expected in [
        (("export", "--since", "garbage"), "newsmon export: --since: 'garbage' is not a duration"),
        (("export", "--since=-7d"), "newsmon export: --since: '-7d' is not a duration"),
        (
            ("export", "--topic", "kursks"),
            "newsmon export: --topic: no topic 'kursks' in the config (topics: ",
        ),
        (("topics", "test", "truce", "--limit", "0"), "argument --limit: '0' must be at least 1"),
        (
            ("topics", "test", "truce", "--since", "2x"),
            "newsmon topics test: --since: '2x' is not a duration",
        ),
    ]:
        done = newsmon(config, *args)
        assert done.returncode == 2 and expected in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    for args in (("export", "--since", "999999d"), ("topics", "test", "truce", "--since", "999999d")):
        done = newsmon(config, *args)
        assert done.returncode == 0 and "Traceback" not in done.stderr, (args, done.stderr)


def test_global_options_work_after_the_command_too_and_version_is_shown(tmp_path, mongo_uri):
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", NO_FETCH, None))
    after = subprocess.run(
        [sys.executable, "-m", "monitor", "check", "--config", str(config), "-v"],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # no monitor.yaml here: only the one given after the command can be read
        timeout=120,
    )
    assert after.returncode == 0, after.stderr
    assert f"config {config}: ok" in after.stdout
    version = newsmon(None, "--version")
    assert version.returncode == 0 and version.stdout.startswith("newsmon ")
    run_help = newsmon(None, "run", "--help")
    assert "run the scheduler: crawl every crawl.every" in run_help.stdout


def test_init_that_cannot_write_says_so_and_keeps_the_old_file(tmp_path):
    done = newsmon(tmp_path / "missing" / "monitor.yaml", "init")
    assert done.returncode == 1 and "newsmon init: cannot write" in done.stderr
    assert "Traceback" not in done.stderr
    config = tmp_path / "monitor.yaml"
    config.write_text("# mine\n")
    (tmp_path / ".monitor.yaml.new").mkdir()  # where init writes first: the write fails (even as root)
    done = newsmon(config, "init", "--force")
    assert done.returncode == 1 and "newsmon init: cannot write" in done.stderr
    assert "Traceback" not in done.stderr
    assert config.read_text() == "# mine\n"  # not emptied by the failed overwrite


def test_extract_refuses_endless_files_and_other_schemes():
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "extract", "--json", "/dev/zero", "ftp://example.org/x"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    first, second = map(json.loads, done.stdout.splitlines())
    assert done.returncode == 1
    assert first["error"] == "ValueError: '/dev/zero' is larger than 10485760 bytes"
    assert second["error"] == "ValueError: 'ftp://example.org/x': only http(s) URLs and files can be read"


def test_init_force_through_a_symlink_replaces_its_target_and_keeps_the_mode(tmp_path):
    target = tmp_path / "real.yaml"
    target.write_text("# mine\n")
    target.chmod(0o600)
    link = tmp_path / "monitor.yaml"
    link.symlink_to(target)
    done = newsmon(link, "init", "--force")
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and "topics:" in target.read_text()
    assert target.stat().st_mode & 0o777 == 0o600


def test_digest_to_takes_an_address_as_the_config_does(tmp_path, mongo_uri):
    config = write_config(tmp_path / "monitor.yaml", config_text(mongo_uri, tmp_path / "var", NO_FETCH, None))
    done = newsmon(config, "digest", "--to", "ALICE@Example.org", "--dry-run")
    assert done.returncode == 0 and done.stdout.startswith("alice@example.org: "), done.stdout + done.stderr
    done = newsmon(config, "digest", "--to", "bob@example.org")
    assert done.returncode == 2
    assert "no recipient bob@example.org (recipients: alice@example.org)" in done.stderr


def test_an_unreachable_database_is_one_line_naming_it_without_its_password(tmp_path):
    from test_end_to_end import dead_port

    port = dead_port()
    config = write_config(
        tmp_path / "monitor.yaml",
        f'storage:\n  mongodb_uri: "mongodb://newsmon:s3cret@127.0.0.1:{port}/newsmon"\n'
        "feeds: []\ntopics: {}\nrecipients: []\n",
    )
    done = newsmon(config, "export", env={"MONITOR_MONGODB_URI": ""})
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"newsmon: database error: mongodb://newsmon:***@127.0.0.1:{port}/newsmon:"
        f" the database cannot be reached: 127.0.0.1:{port}: [Errno 111] Connection refused"
    ), done.stderr  # not pymongo's timeouts and topology dump


def test_sigterm_during_a_digest_releases_its_claim(tmp_path, smtp, mongo_uri):
    """`timeout`, cron and systemd stop commands with SIGTERM: the next digest must not find the
    recipient claimed by a process that is gone, and the message is sent once."""
    from test_delivery import make_config, seed

    from monitor.store import Store

    box, port = smtp
    loaded = make_config(tmp_path, mongo_uri, f"smtp+plain://127.0.0.1:{port}")
    config = loaded.path
    with Store.open(loaded.storage) as store:
        seed(store)
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "digest", "--now"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    box.delay, box.refuse = 3, True  # this one is not kept: only the claim is under test
    box.on_data = lambda: proc.send_signal(signal.SIGTERM)  # while the server takes the message
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    box.delay, box.refuse, box.on_data = 0, False, None
    again = newsmon(config, "digest", "--now")
    assert "in-progress" not in again.stdout and again.returncode == 0, again.stdout + again.stderr
    assert len(box.messages) == 1
