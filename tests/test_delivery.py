"""Sending digests against a real SMTP server and a real database: each item once, to exactly
the recipient, whatever the server answers after it accepted the message."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import newsmon, write_config

from monitor.config import Config, parse_config
from monitor.delivery import JOURNAL_DIR, Journal, journal_path, send_digest, write_journal
from monitor.embedded import EmbeddedServer
from monitor.models import Article, Ingested, TopicHit
from monitor.store import Holder, Store, sending_claim

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
    assert store.claim(sending_claim("alice@example.org"), "crashed", timedelta(seconds=1), Holder())
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


def test_a_server_slow_to_accept_the_message_is_waited_for(tmp_path, mongo_uri, store, smtp, monkeypatch):
    """A server may take minutes over the reply to the message (content scanning): giving up at
    the connection's timeout counted a delivered message as failed, and it was mailed again."""
    from monitor import mail

    box, port = smtp
    config = make_config(tmp_path, mongo_uri, f"smtp+plain://127.0.0.1:{port}")
    seed(store)
    monkeypatch.setattr(mail, "SMTP_TIMEOUT_S", 1)  # the connection's own limit, made short
    box.delay = 2
    assert send(config, store).status == "sent"
    assert send(config, store).status == "nothing-new" and len(box.messages) == 1


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


def test_old_news_left_behind_is_not_counted_as_lost(tmp_path, mongo_uri, store, smtp, caplog):
    """An article published a year before it was found was never to be mailed (it is not news):
    the warning about unsent items that age out counts only the others."""
    box, port = smtp
    config = make_config(tmp_path, mongo_uri, f"smtp+plain://127.0.0.1:{port}")
    now = datetime.now(UTC)
    hit = TopicHit("ceasefire", ("truce",), "a truce", ((2, 7),), 1.0)
    old = Article("https://n.example/old", "old", "truce", "w", "feed", published=now - timedelta(days=400))
    store.store_ingested([Ingested(old, (hit,), ())])
    seed(store, matched_at=now)  # two articles without a date, and (re-inserted) the old one
    box.refuse = True
    assert send(config, store, now).items == 2
    box.refuse = False
    caplog.set_level(logging.WARNING, logger="monitor.delivery")
    assert send(config, store, now + timedelta(days=31)).status == "nothing-new"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "2 unsent items" in warnings[0], warnings


def test_a_percent_encoded_user_name_logs_in_decoded(tmp_path, mongo_uri, store, smtp_login, monkeypatch):
    box, port = smtp_login
    box.login = ("newsmon@example.org", "s3cret")
    monkeypatch.setenv("MONITOR_SMTP_PASSWORD", "s3cret")
    config = make_config(tmp_path, mongo_uri, f"smtp+plain://newsmon%40example.org@127.0.0.1:{port}")
    seed(store)
    assert send(config, store).status == "sent" and len(box.messages) == 1


def test_an_unset_password_is_named_instead_of_the_servers_refusal(
    tmp_path, mongo_uri, store, smtp_login, monkeypatch
):
    """Under cron or systemd the environment is easily lost: the digest and `check` say which
    variable is missing (the server would only answer "535 authentication failed")."""
    box, port = smtp_login
    box.login = ("newsmon", "s3cret")
    monkeypatch.delenv("MONITOR_SMTP_PASSWORD", raising=False)
    config = make_config(tmp_path, mongo_uri, f"smtp+plain://newsmon@127.0.0.1:{port}")
    seed(store)
    failed = send(config, store)
    assert failed.status == "failed" and "$MONITOR_SMTP_PASSWORD is not set" in failed.detail
    assert box.messages == []
    check = newsmon(config.path, "check", timeout=60)  # the variable is gone from its environment too
    assert check.returncode == 1
    assert f"mail: FAILED: 127.0.0.1:{port}: cannot log in as newsmon: $MONITOR_SMTP_PASSWORD is not set" in (
        check.stdout
    )


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


def _kill_at_data(box, db_dir: Path) -> None:
    """The database dies while the SMTP server takes the message (not after a fixed time: a slow
    start under load had a timer fire before the digest's database was up)."""
    state = db_dir / "server.json"
    box.on_data = lambda: os.kill(json.loads(state.read_text())["pid"], signal.SIGKILL)


def test_an_embedded_database_killed_as_the_server_takes_the_message_is_restarted_and_mails_once(
    tmp_path, smtp, monkeypatch
):
    monkeypatch.delenv("MONITOR_MONGODB_URI", raising=False)
    box, port = smtp
    config = make_config(tmp_path, "embedded", f"smtp+plain://127.0.0.1:{port}")
    with Store.open(config.storage) as own:
        seed(own)
    _kill_at_data(box, tmp_path / "var" / "db")
    done = newsmon(config.path, "digest", "--now")
    assert len(box.messages) == 1 and done.returncode == 0, done.stderr
    sent = [line for line in done.stdout.splitlines() if line.startswith("alice@example.org: ")]
    assert sent and sent[0].startswith("alice@example.org: sent (2 items) accepted by 127.0.0.1:"), (
        done.stdout
    )
    assert "restarted it to record the digest" in done.stderr and "Traceback" not in done.stderr
    box.on_data = None
    for _ in range(2):  # at once, not after the claim ran out: nothing blocks, nothing goes out again
        again = newsmon(config.path, "digest", "--now")
        assert again.stdout == "alice@example.org: nothing-new\n" and again.returncode == 0, again.stderr
    assert len(box.messages) == 1
    with Store.open(config.storage) as own:
        assert own.deliveries_count("alice@example.org") == 2
    assert not list((tmp_path / "var" / JOURNAL_DIR).glob("*.json"))  # recorded: the journal is gone


def test_an_external_database_down_after_acceptance_never_mails_twice(tmp_path, smtp, monkeypatch):
    """Nothing can restart it: the journal keeps the accepted digest; a run while it is down sends
    nothing; the first run after it is back records the digest (taking over the dead claim at
    once) and mails none of its items again."""
    monkeypatch.delenv("MONITOR_MONGODB_URI", raising=False)
    box, port = smtp
    external = EmbeddedServer(tmp_path / "external")  # stands for a MongoDB server of its own
    config = make_config(tmp_path, external.acquire() + "newsmon", f"smtp+plain://127.0.0.1:{port}")
    try:
        with Store.open(config.storage) as own:
            seed(own)
        _kill_at_data(box, external.dir)
        done = newsmon(config.path, "digest", "--now")
        assert len(box.messages) == 1 and done.returncode == 1
        assert "digest for alice@example.org was accepted" in done.stderr
        assert "the next digest records it first and does not mail its 2 items again" in done.stderr
        assert "Traceback" not in done.stderr
        box.on_data = None
        down = newsmon(config.path, "digest", "--now")
        assert down.returncode == 1 and "database error" in down.stderr and len(box.messages) == 1
        config = make_config(tmp_path, external.acquire() + "newsmon", f"smtp+plain://127.0.0.1:{port}")
        back = newsmon(config.path, "digest", "--now")
        assert back.stdout == "alice@example.org: nothing-new\n" and back.returncode == 0, back.stderr
        assert "is gone; taking over its claim" in back.stderr
        assert "recorded the digest the server accepted" in back.stderr
        assert len(box.messages) == 1
        with Store.open(config.storage) as own:
            assert own.deliveries_count("alice@example.org") == 2
            assert own.db.digests.count_documents({"recipient": "alice@example.org", "items": 2}) == 1
    finally:
        external.release()
        external.release()


def _journal(config: Config, articles: list[str], *, accepted: bool) -> Path:
    path = journal_path(config.storage.data_dir, "alice@example.org")
    slot = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
    entry = Journal("alice@example.org", slot.isoformat(), tuple(articles), "<m1@example.org>", len(articles))
    write_journal(path, replace(entry, accepted=accepted, reply="accepted by mx:25" if accepted else ""))
    return path


def test_an_accepted_journal_is_recorded_before_the_next_digest(tmp_path, mongo_uri, store, smtp, caplog):
    box, port = smtp
    config = make_config(tmp_path, mongo_uri, f"smtp+plain://127.0.0.1:{port}")
    seed(store, n=3)
    path = _journal(config, ["https://n.example/0", "https://n.example/1"], accepted=True)
    caplog.set_level(logging.WARNING, logger="monitor.delivery")
    sent = send(config, store)
    assert sent.status == "sent" and sent.items == 1  # only the item the accepted digest did not hold
    mailed = store.db.deliveries.find_one({"article": "https://n.example/2"})
    assert mailed is not None and mailed["message_id"] == box.messages[0]["Message-ID"]
    assert store.deliveries_count("alice@example.org") == 3 and not path.exists()
    assert store.digest_done("alice@example.org", datetime(2026, 11, 29, 7, 0, tzinfo=UTC))
    assert any("recorded the digest the server accepted" in r.getMessage() for r in caplog.records)


def test_a_journal_never_accepted_is_dropped_and_its_items_sent(tmp_path, mongo_uri, store, smtp, caplog):
    """A sender that stopped before the server's 250: the outcome is unknown, so the items go out
    (at least once) rather than never."""
    box, port = smtp
    config = make_config(tmp_path, mongo_uri, f"smtp+plain://127.0.0.1:{port}")
    seed(store)
    path = _journal(config, ["https://n.example/0", "https://n.example/1"], accepted=False)
    caplog.set_level(logging.WARNING, logger="monitor.delivery")
    sent = send(config, store)
    assert sent.status == "sent" and sent.items == 2 and len(box.messages) == 1 and not path.exists()
    assert any("whether the server accepted it is unknown" in r.getMessage() for r in caplog.records)


def test_an_unreadable_journal_stops_the_digest_in_one_line(tmp_path, mongo_uri, store, smtp):
    box, port = smtp
    config = make_config(tmp_path, mongo_uri, f"smtp+plain://127.0.0.1:{port}")
    seed(store)
    path = journal_path(config.storage.data_dir, "alice@example.org")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    failed = send(config, store)
    assert failed.status == "failed" and box.messages == [] and path.exists()
    assert failed.detail.startswith(f"not sent: the delivery journal {path} cannot be read (")
    assert "\n" not in failed.detail


def test_a_claim_of_a_process_that_is_gone_is_taken_over_at_once(tmp_path, mongo_uri, store, smtp):
    box, port = smtp
    config = make_config(tmp_path, mongo_uri, f"smtp+plain://127.0.0.1:{port}")
    seed(store)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    until = time.time() + 600
    holder = {"owner": "dead", "until": until, "host": socket.gethostname(), "pid": dead.pid, "pid_start": ""}
    store.db.sending.insert_one({"_id": "alice@example.org", **holder})
    assert send(config, store).status == "sent" and len(box.messages) == 1
    # a live pid that started at another time than the claim's holder: the pid was reused
    seed(store, n=3)
    store.db.sending.update_one(
        {"_id": "alice@example.org"},
        {"$set": {"owner": "reused", "until": until, "pid": os.getpid(), "pid_start": "1"}},
    )
    assert send(config, store).status == "sent" and len(box.messages) == 2


def test_in_progress_names_who_holds_the_claim_and_until_when(tmp_path, mongo_uri, store, smtp):
    box, port = smtp
    config = make_config(tmp_path, mongo_uri, f"smtp+plain://127.0.0.1:{port}")
    seed(store)
    until = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    me = {"owner": "live", "until": until.timestamp(), "host": socket.gethostname(), "pid": os.getpid()}
    store.db.sending.insert_one({"_id": "alice@example.org", **me})  # this process: alive
    busy = send(config, store)
    assert busy.status == "in-progress" and box.messages == []
    assert busy.detail == (
        f"pid {os.getpid()} on {socket.gethostname()} is sending this digest now; "
        "its claim holds until 2030-01-02 03:04:05 UTC"
    )
