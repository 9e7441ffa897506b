"""Sending digests against a real SMTP server and a real database: each item once, to exactly
the recipient, whatever the server answers after it accepted the message."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import newsmon, write_config

from monitor.config import Config, parse_config
from monitor.delivery import send_digest
from monitor.models import Article, Ingested, TopicHit
from monitor.store import Store

SENDER = '"News monitor, Kyiv desk" <newsmon@example.org>'


def make_config(tmp_path: Path, mongo_uri: str, smtp_url: str, sender: str = SENDER) -> Config:
    text = f"""\
storage:
  mongodb_uri: {mongo_uri}
  data_dir: {tmp_path / "var"}
topics:
  ceasefire:
    keywords: [truce]
recipients:
  - email: alice@example.org
    topics: [ceasefire]
mail:
  from: '{sender}'
  smtp: {smtp_url}
"""
    return parse_config(text, write_config(tmp_path / "monitor.yaml", text))


@pytest.fixture
def store(tmp_path, mongo_uri, monkeypatch):
    monkeypatch.delenv("MONITOR_MONGODB_URI", raising=False)
    monkeypatch.delenv("MONITOR_SMTP_PASSWORD", raising=False)
    config = make_config(tmp_path, mongo_uri, "smtp+plain://127.0.0.1:25")
    with Store.open(config.storage) as s:
        yield s
        s.client.drop_database(s.db.name)


def seed(store: Store, n: int = 2, matched_at: datetime | None = None) -> None:
    """n articles matching `ceasefire`; matched at `matched_at` (re-inserted: the embedded server
    would turn a datetime written by $set into a string)."""
    hit = TopicHit("ceasefire", ("truce",), "a truce", ((2, 7),), 1.0)
    store.store_ingested(
        [
            Ingested(Article(f"https://n.example/{i}", f"t{i}", "truce", "w", "page"), (hit,), ())
            for i in range(n)
        ]
    )
    if matched_at is not None:
        docs = list(store.db.matches.find({}))
        store.db.matches.delete_many({})
        store.db.matches.insert_many([{**d, "matched_at": matched_at} for d in docs])


def send(config: Config, store: Store, now: datetime | None = None):
    return send_digest(config, store, config.recipients[0], now or datetime.now(UTC), force=True)


def test_two_senders_at_once_mail_the_items_once(tmp_path, mongo_uri, store, smtp):
    box, port = smtp
    config = make_config(tmp_path, mongo_uri, f"smtp+plain://127.0.0.1:{port}")
    seed(store)
    box.delay = 2  # the first sender is still in DATA when the second starts
    results = []

    def sender() -> None:
        with Store.open(config.storage) as own:  # a connection of its own, as another process has
            results.append(send(config, own))

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
        time.sleep(0.3)
    for t in threads:
        t.join(30)
    assert len(box.messages) == 1
    assert sorted(r.status for r in results) == ["in-progress", "sent"]
    box.delay = 0
    assert send(config, store).status == "nothing-new"  # the claim was released
    assert len(box.messages) == 1


def test_a_crashed_senders_claim_expires(tmp_path, mongo_uri, store, smtp):
    box, port = smtp
    config = make_config(tmp_path, mongo_uri, f"smtp+plain://127.0.0.1:{port}")
    seed(store)
    assert store.claim_digest("alice@example.org", "crashed", timedelta(seconds=1)) is not None
    assert send(config, store).status == "in-progress" and box.messages == []
    time.sleep(1.2)  # the crashed sender never released its claim; it runs out
    assert send(config, store).status == "sent" and len(box.messages) == 1


def test_a_quit_reply_other_than_221_after_acceptance_counts_as_sent(tmp_path, mongo_uri, store, smtp):
    box, port = smtp
    config = make_config(tmp_path, mongo_uri, f"smtp+plain://127.0.0.1:{port}")
    seed(store)
    box.quit_reply = "421 4.4.2 closing, idle timeout"
    sent = send(config, store)
    assert sent.status == "sent" and sent.items == 2
    assert send(config, store).status == "nothing-new"
    assert len(box.messages) == 1


def test_the_envelope_is_the_parsed_sender_and_exactly_the_recipient(tmp_path, mongo_uri, store, smtp):
    box, port = smtp
    config = make_config(tmp_path, mongo_uri, f"smtp+plain://127.0.0.1:{port}")
    seed(store)
    assert send(config, store).status == "sent"
    assert box.envelopes == [("newsmon@example.org", ["alice@example.org"])]
    assert box.messages[0]["From"] == SENDER


def test_items_survive_more_than_a_week_of_failed_sends(tmp_path, mongo_uri, store, smtp):
    box, port = smtp
    config = make_config(tmp_path, mongo_uri, f"smtp+plain://127.0.0.1:{port}")
    now = datetime.now(UTC)
    seed(store, matched_at=now)
    box.refuse = True
    assert send(config, store, now).status == "failed"
    box.refuse = False
    later = send(config, store, now + timedelta(days=8))  # the window reaches back to the first try
    assert later.status == "sent" and later.items == 2


def test_items_past_the_backlog_limit_are_logged_once(tmp_path, mongo_uri, store, smtp, caplog):
    box, port = smtp
    config = make_config(tmp_path, mongo_uri, f"smtp+plain://127.0.0.1:{port}")
    now = datetime.now(UTC)
    seed(store, matched_at=now)
    box.refuse = True
    assert send(config, store, now).status == "failed"
    box.refuse = False
    caplog.set_level(logging.WARNING, logger="monitor.delivery")
    assert send(config, store, now + timedelta(days=31)).status == "nothing-new"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "alice@example.org" in warnings[0] and "2 unsent items" in warnings[0]
    caplog.clear()
    assert send(config, store, now + timedelta(days=32)).status == "nothing-new"
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]  # said once, not per run


def test_a_percent_encoded_user_name_logs_in_decoded(tmp_path, mongo_uri, store, smtp_login, monkeypatch):
    box, port = smtp_login
    box.login = ("newsmon@example.org", "s3cret")
    monkeypatch.setenv("MONITOR_SMTP_PASSWORD", "s3cret")
    config = make_config(tmp_path, mongo_uri, f"smtp+plain://newsmon%40example.org@127.0.0.1:{port}")
    seed(store)
    assert send(config, store).status == "sent" and len(box.messages) == 1


PASSWORD = "пароль-2026"


def test_a_non_ascii_password_fails_cleanly(tmp_path, mongo_uri, store, smtp_login, monkeypatch):
    box, port = smtp_login
    box.login = ("newsmon", PASSWORD)
    monkeypatch.setenv("MONITOR_SMTP_PASSWORD", PASSWORD)
    config = make_config(tmp_path, mongo_uri, f"smtp+plain://newsmon@127.0.0.1:{port}")
    seed(store)
    failed = send(config, store)
    assert failed.status == "failed" and "ASCII" in failed.detail and PASSWORD not in failed.detail
    assert box.messages == []

    check = newsmon(config.path, "check", env={"MONITOR_SMTP_PASSWORD": PASSWORD}, timeout=60)
    assert check.returncode == 1
    assert any(line.startswith("mail: FAILED: ") and "ASCII" in line for line in check.stdout.splitlines())
    assert "Traceback" not in check.stderr and "schedule:" in check.stdout
    assert PASSWORD not in check.stdout + check.stderr


def test_a_dry_run_without_now_previews_the_scheduled_run(tmp_path, mongo_uri, store, smtp):
    _box, port = smtp
    config = make_config(tmp_path, mongo_uri, f"smtp+plain://127.0.0.1:{port}")
    alice, now = config.recipients[0], datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # after `at` (07:00)
    assert send_digest(config, store, alice, now).status == "nothing-new"  # today's slot is done
    seed(store)
    assert send_digest(config, store, alice, now, dry_run=True).status == "not-due"  # as the real run
    assert send_digest(config, store, alice, now, dry_run=True, force=True).status == "dry-run"


def test_a_new_recipients_first_digest_waits_for_its_time(tmp_path, mongo_uri, store, smtp):
    """Added at 05:00 with `at` 07:00: nothing before 07:00 (yesterday's slot was never theirs),
    then today's digest at 07:00, and a send at once only with --now."""
    box, port = smtp
    config = make_config(tmp_path, mongo_uri, f"smtp+plain://127.0.0.1:{port}")
    recipient = config.recipients[0]  # at 07:00 UTC (the defaults)
    seed(store)
    early = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
    assert send_digest(config, store, recipient, early).status == "not-due"
    assert send_digest(config, store, recipient, early + timedelta(hours=1), dry_run=True).status == "not-due"
    assert box.messages == []
    assert send_digest(config, store, recipient, early + timedelta(hours=2, minutes=5)).status == "sent"
    assert len(box.messages) == 1


def test_a_database_gone_after_the_server_accepted_says_the_mail_went_out(tmp_path, smtp, monkeypatch):
    import json
    import os
    import signal

    monkeypatch.delenv("MONITOR_MONGODB_URI", raising=False)
    box, port = smtp
    config = make_config(tmp_path, "embedded", f"smtp+plain://127.0.0.1:{port}")
    with Store.open(config.storage) as own:
        seed(own)
    state = tmp_path / "var" / "db" / "server.json"
    # the database dies while the server takes the message (not after a fixed time: a slow start
    # under load had the timer fire before the digest's database was up)
    box.on_data = lambda: os.kill(json.loads(state.read_text())["pid"], signal.SIGKILL)
    done = newsmon(config.path, "digest", "--now")
    assert len(box.messages) == 1 and done.returncode == 1
    assert "digest for alice@example.org was accepted" in done.stderr
    assert "the database could not record it: its 2 items will be in the next digest again" in done.stderr
    assert "Traceback" not in done.stderr
