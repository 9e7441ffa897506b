"""A topic added to the config, or edited, is applied to the articles stored in the last 7 days:
by the next crawl (or digest), once, on the real embedded store, sample site and SMTP server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import newsmon, write_config
from pymongo import MongoClient, monitoring

from monitor.backfill import apply_changed_topics, changed_topics, topic_signature
from monitor.models import Article, Ingested
from monitor.store import Store, article_id
from monitor.topics import compile_topic

KURSK = "/news/kursk-front-line.html"  # "... on the Kursk front as Trump pushes for talks"
GENEVA = "/news/geneva-ceasefire-talks.html"
GRAIN = "/news/grain-exports-budget.html"

CEASEFIRE = '  ceasefire:\n    keywords: ["ceasefire talks"]\n'


def config_text(
    mongo_uri: str, data_dir: Path, feed: str, smtp_port: int, topics: str, recipients: str
) -> str:
    return (
        f"storage:\n  mongodb_uri: {mongo_uri}\n  data_dir: {data_dir}\n"
        "crawl:\n  timeout: 5s\n  retries: 1\n"
        f"feeds:\n  - url: {feed}\n    name: world\n"
        f"topics:\n{topics}"
        f"recipients:\n{recipients}"
        f'mail:\n  from: "newsmon <newsmon@example.org>"\n  smtp: smtp+plain://127.0.0.1:{smtp_port}\n'
    )


def recipient(email: str, *topics: str) -> str:
    return f"  - email: {email}\n    topics: [{', '.join(topics)}]\n"


@pytest.fixture
def world(tmp_path, site, smtp, mongo_uri):
    """write(topics, recipients) -> the config path, for the sample site's world feed (3 articles)."""
    _, port = smtp

    def write(topics: str, recipients: str) -> Path:
        text = config_text(
            mongo_uri, tmp_path / "var", site.url("/feeds/world.xml"), port, topics, recipients
        )
        return write_config(tmp_path / "monitor.yaml", text)

    return write


@pytest.fixture
def db(mongo_uri):
    client = MongoClient(mongo_uri, serverSelectionTimeoutMS=3000, tz_aware=True)
    yield client.get_default_database()
    client.close()


def crawl(config: Path) -> str:
    done = newsmon(config, "-v", "crawl")
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def exported(config: Path, topic: str) -> set[str]:
    done = newsmon(config, "export", "--topic", topic)
    assert done.returncode == 0, done.stderr
    return {json.loads(line)["url"].split("/", 3)[3] for line in done.stdout.splitlines()}


def matches(db, topic: str) -> dict[str, dict]:
    return {"/" + d["article"].split("/", 3)[3]: d for d in db.matches.find({"topic": topic}, {"_id": 0})}


def html(message) -> str:
    return message.get_payload()[1].get_payload(decode=True).decode()


def test_a_topic_added_matches_this_weeks_articles_at_the_next_crawl_once(world, db, smtp, site, mongo_uri):
    box, _ = smtp
    config = world(CEASEFIRE, recipient("alice@example.org", "ceasefire"))
    assert "new matches: 1" in crawl(config)

    config = world(
        CEASEFIRE + "  trump:\n    query: Trump\n",
        recipient("alice@example.org", "ceasefire") + recipient("bob@example.org", "trump"),
    )
    out = crawl(config)
    assert "feeds: 1 fetched (1 not modified)" in out and "new articles: 0" in out
    line = "topic 'trump' is new: matched against 3 articles of the last 7 days: 1 new match"
    assert f"  {line}\n" in out  # in the summary
    assert f"INFO monitor.backfill: {line}" in out  # and logged once
    assert exported(config, "trump") == {KURSK.lstrip("/")}

    sent = newsmon(config, "digest", "--now", "--to", "bob@example.org")
    assert "bob@example.org: sent (1 items)" in sent.stdout, sent.stdout + sent.stderr
    assert len(box.messages) == 1 and box.messages[0]["To"] == "bob@example.org"
    assert KURSK in html(box.messages[0]) and "<mark>Trump</mark>" in html(box.messages[0])

    again = crawl(config)
    assert "new matches: 0" in again and "trump" not in again  # applied once: no line, no scan
    assert len(matches(db, "trump")) == 1

    # scored, with snippet and highlights, exactly as a crawl that had the topic from the start
    fresh = mongo_uri.rsplit("/", 1)[0] + "/" + db.name + "_fresh"
    config_fresh = Path(str(config) + ".fresh.yaml")
    write_config(config_fresh, config.read_text().replace(mongo_uri, fresh))
    assert "new matches: 2" in crawl(config_fresh)
    client = MongoClient(fresh, tz_aware=True)
    try:
        crawled = matches(client.get_default_database(), "trump")[KURSK]
        client.drop_database(client.get_default_database().name)
    finally:
        client.close()
    applied = matches(db, "trump")[KURSK]
    same = ("terms", "snippet", "highlights", "score", "title", "feed", "published")
    assert {k: applied[k] for k in same} == {k: crawled[k] for k in same}
    assert applied["snippet"] and applied["highlights"] and applied["score"] > 0


def test_an_edited_query_is_applied_again_and_keeps_what_it_matched(world, db):
    recipients = recipient("bob@example.org", "trump")
    config = world(CEASEFIRE + "  trump:\n    query: Trump\n", recipients)
    assert "new matches: 2" in crawl(config)
    before = matches(db, "trump")
    assert set(before) == {KURSK}

    # the same query written otherwise, and another recipient: not an edit of what it matches
    config = world(
        CEASEFIRE + "  trump:\n    query: ' TRUMP '\n", recipients + recipient("c@example.org", "trump")
    )
    assert "trump" not in crawl(config)

    config = world(CEASEFIRE + '  trump:\n    query: grain OR "ceasefire talks"\n', recipients)
    out = crawl(config)
    assert "topic 'trump' was edited: matched against 3 articles of the last 7 days: 2 new matches" in out
    after = matches(db, "trump")
    assert set(after) == {KURSK, GENEVA, GRAIN}
    assert after[KURSK] == before[KURSK]  # the old match is kept as it was
    assert after[GRAIN]["matched_at"] > before[KURSK]["matched_at"]
    assert exported(config, "trump") == {p.lstrip("/") for p in (KURSK, GENEVA, GRAIN)}


def test_articles_stored_over_7_days_ago_are_not_matched_again(world, db, site):
    config = world(CEASEFIRE, recipient("bob@example.org", "ceasefire"))
    crawl(config)
    now = datetime.now(UTC)
    for path, age in ((GRAIN, timedelta(days=8)), (KURSK, timedelta(days=6, hours=23))):
        doc = db.articles.find_one({"_id": article_id(site.url(path))})
        db.articles.replace_one({"_id": doc["_id"]}, {**doc, "stored_at": now - age})  # test set-up

    config = world(
        CEASEFIRE + "  trade:\n    query: Trump OR grain\n",
        recipient("bob@example.org", "ceasefire", "trade"),
    )
    out = crawl(config)
    assert "topic 'trade' is new: matched against 2 articles of the last 7 days: 1 new match" in out
    assert set(matches(db, "trade")) == {KURSK}  # not GRAIN, stored 8 days ago


def test_an_article_mailed_under_one_topic_is_not_mailed_again_under_a_new_one(world, smtp):
    box, _ = smtp
    config = world(CEASEFIRE, recipient("alice@example.org", "ceasefire"))
    crawl(config)
    first = newsmon(config, "digest", "--now")
    assert "alice@example.org: sent (1 items)" in first.stdout, first.stdout + first.stderr
    assert GENEVA in html(box.messages[0])

    # no crawl in between: `digest` applies the new topic itself
    config = world(
        CEASEFIRE + "  geneva:\n    query: Geneva\n",
        recipient("alice@example.org", "ceasefire", "geneva") + recipient("bob@example.org", "geneva"),
    )
    second = newsmon(config, "digest", "--now")
    assert second.returncode == 0, second.stderr
    assert "alice@example.org: nothing-new" in second.stdout  # she had it under ceasefire
    assert "bob@example.org: sent (1 items)" in second.stdout
    assert (
        "topic 'geneva' is new: matched against 3 articles of the last 7 days: 1 new match" in second.stdout
    )
    assert [m["To"] for m in box.messages] == ["alice@example.org", "bob@example.org"]
    assert GENEVA in html(box.messages[1])


# ---------------------------------------------------------------- on the store, in this process


class Commands(monitoring.CommandListener):
    """The commands a client sends (what the server is asked, not a stand-in for it)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append((event.command_name, str(event.command.get(event.command_name, ""))))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
def store(mongo_uri):
    commands = Commands()
    client = MongoClient(mongo_uri, serverSelectionTimeoutMS=3000, tz_aware=True, event_listeners=[commands])
    s = Store(client, client.get_default_database().name)
    s.ensure_indexes()
    s.commands = commands
    yield s
    client.drop_database(s.db.name)
    client.close()


def stored(store: Store, *texts: str) -> None:
    store.store_ingested(
        [
            Ingested(
                Article(url=f"https://n.example/{i}", title=f"t{i}", text=t, feed="w", source="page"), (), ()
            )
            for i, t in enumerate(texts)
        ]
    )


def test_nothing_changed_costs_one_small_query_and_no_article_scan(store):
    stored(store, "Kursk offensive goes on", "truce talks stall")
    topics = {
        "kursk": compile_topic("kursk", query="kursk"),
        "truce": compile_topic("truce", keywords=["truce"]),
    }
    applied = apply_changed_topics(store, topics)
    assert [(a.topic, a.change, a.articles, a.matches) for a in applied] == [
        ("kursk", "new", 2, 1),
        ("truce", "new", 2, 1),
    ]
    store.commands.sent.clear()
    assert apply_changed_topics(store, topics) == []
    assert store.commands.sent == [("find", "topics")]  # the signatures; no article read


def test_a_backfill_cut_short_is_redone_without_duplicates(store):
    stored(store, "Kursk offensive goes on", "Kursk again")
    topics = {"kursk": compile_topic("kursk", query="kursk")}
    assert apply_changed_topics(store, topics)[0].matches == 2
    store.db.topics.delete_many({})  # as a crawl that died after storing the matches leaves it
    redone = apply_changed_topics(store, topics)
    assert [(a.change, a.articles, a.matches) for a in redone] == [("new", 2, 0)]
    assert store.db.matches.count_documents({"topic": "kursk"}) == 2


def test_the_signature_is_what_decides_matching():
    def sig(**kw) -> str:
        return topic_signature(compile_topic("t", **kw))

    assert sig(query="Kursk  AND “talks”") == sig(query='kursk "talks"') == sig(query="kursk talks")
    assert sig(query="Élysée NEAR/05 talks") == sig(query="elysee NEAR/5 talks")
    assert sig(keywords=["Kursk offensive"]) == sig(keywords=["kursk  offensive"])
    assert sig(query="kursk talks") != sig(query="kursk OR talks") != sig(query="title:kursk OR talks")
    assert sig(query="kursk NEAR/5 talks") != sig(query="kursk NEAR/6 talks")

    kursk = compile_topic("Kursk", query="kursk")
    recorded = {"kursk": topic_signature(kursk), "gone": "x"}
    # matches are stored under the name as written: another letter case is another topic
    assert [(t.name, change) for t, _, change in changed_topics({"Kursk": kursk}, recorded)] == [
        ("Kursk", "new")
    ]
    assert changed_topics({"kursk": kursk}, recorded) == []
    edited = compile_topic("kursk", query="kursk offensive")
    assert [change for _, _, change in changed_topics({"kursk": edited}, recorded)] == ["edited"]


def test_runs_digest_job_applies_a_topic_added_since_the_last_crawl(world, smtp):
    """`run`'s own digest jobs select as `newsmon digest` does: a topic added after the last crawl
    is applied first, so the digest due at its time holds the topic's items."""
    from monitor import scheduler

    box, _ = smtp
    config = world(CEASEFIRE, recipient("alice@example.org", "ceasefire"))
    crawl(config)
    config = world(
        CEASEFIRE + "  trump:\n    query: Trump\n",
        recipient("alice@example.org", "ceasefire")
        + recipient("bob@example.org", "trump")
        + '    at: "00:00"\n',
    )
    scheduler.digest_job(str(config), "bob@example.org")
    assert len(box.messages) == 1 and box.messages[0]["To"] == "bob@example.org"
    assert KURSK in html(box.messages[0])
