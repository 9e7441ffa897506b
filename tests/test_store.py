"""The storage module on a real server: idempotent writes, feed health, what is still unsent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pymongo import MongoClient

from monitor.models import Article, FeedEntry, Ingested, TopicHit
from monitor.store import Store


@pytest.fixture
def store(mongo_uri):
    client = MongoClient(mongo_uri, serverSelectionTimeoutMS=3000, tz_aware=True)
    s = Store(client, client.get_default_database().name)
    s.ensure_indexes()
    yield s
    client.drop_database(s.db.name)
    client.close()


def entry(key: str) -> FeedEntry:
    return FeedEntry(feed="world", key=key, link=f"https://n.example/{key}", title=key)


def test_entries_are_stored_once_and_followed_until_done(store):
    assert store.store_entries([entry("a"), entry("b")]) == 2
    assert store.store_entries([entry("a"), entry("b"), entry("c")]) == 1  # a re-crawl adds only c
    assert sorted(e.key for e in store.entries_to_follow("world")) == ["a", "b", "c"]
    store.mark_entry("world", "a", done=True, article="https://n.example/a")
    for _ in range(3):  # a page that keeps failing is given up after three attempts
        store.mark_entry("world", "b", done=False, error="HTTP 500")
    assert [e.key for e in store.entries_to_follow("world")] == ["c"]


def test_feed_health_and_validators(store):
    store.record_feed_failure("world", "https://n.example/rss", "HTTP 503")
    store.record_feed_failure("world", "https://n.example/rss", "timeout")
    state = store.feed_states(["world"])["world"]
    assert state.consecutive_failures == 2 and state.last_error == "timeout" and state.failing_since
    store.record_feed_success(
        "world", "https://n.example/rss", not_modified=False, etag='"v1"', last_modified="", new_items=4
    )
    store.record_feed_success(
        "world", "https://n.example/rss", not_modified=True, etag="", last_modified="", new_items=0
    )
    state = store.feed_states(["world"])["world"]
    assert state.consecutive_failures == 0 and state.failing_since is None
    assert state.etag == '"v1"'  # a 304 keeps the validators it was answered for
    assert state.average_new_items == 2.0 and state.last_status == "not-modified"


def test_unsent_items_exclude_what_a_recipient_already_got(store):
    now = datetime.now(UTC)
    hit = TopicHit("ceasefire", ("truce",), "truce", ((0, 5),), 1.0)
    batch = [
        Ingested(
            Article(url=f"https://n.example/{n}", title=f"t{n}", text="truce", feed="world", source="page"),
            (hit,),
            (("world", str(n)),),
        )
        for n in (1, 2)
    ]
    assert store.store_ingested(batch) == (2, 2)
    again = Ingested(
        Article(url="https://n.example/1", title="t", text="", feed="copy", source="page"), (hit,), ()
    )
    assert store.store_ingested([again]) == (0, 0)  # the same URL from another feed: not new ...
    feeds = store.db.articles.find_one({"url": "https://n.example/1"})["feeds"]
    assert sorted(feeds) == ["copy", "world"]  # ... but the other feed is remembered
    store.record_delivery("alice@example.org", ["https://n.example/1"], "<m1@x>", "250 ok")
    since = now - timedelta(days=1)
    assert [i.article_url for i in store.unsent_items("alice@example.org", ["ceasefire"], since)] == [
        "https://n.example/2"
    ]
    assert len(store.unsent_items("bob@example.org", ["ceasefire"], since)) == 2
    assert store.unsent_items("alice@example.org", ["other"], since) == []
    store.record_delivery("alice@example.org", ["https://n.example/1"], "<m2@x>", "250 ok")  # idempotent
    assert store.deliveries_count("alice@example.org") == 1


def test_an_entry_that_left_the_feed_is_still_followed_until_done(store):
    """Nothing lost: an entry whose page was not fetched yet is followed on later crawls even when
    the feed no longer lists it (or answers 304), until its article is stored."""
    store.store_entries([entry("old")])
    assert [e.key for e in store.entries_to_follow("world", fetched=[entry("new")])] == ["old"]
    store.store_entries([entry("new")])
    assert sorted(e.key for e in store.entries_to_follow("world")) == ["new", "old"]
    store.mark_entry("world", "old", done=True, article="https://n.example/old")
    assert [e.key for e in store.entries_to_follow("world")] == ["new"]
    assert store.db.pending.count_documents({}) == 1  # done entries leave the pending list


def test_entries_stored_without_their_pending_row_are_found_through_the_next_fetch(store):
    """A crash between storing entries and listing them as pending: the feed's validators did not
    advance, so the next fetch returns the same entries, and they are followed by id."""
    store.store_entries([entry("a")])
    store.db.pending.delete_many({})
    assert store.entries_to_follow("world") == []
    assert [e.key for e in store.entries_to_follow("world", fetched=[entry("a")])] == ["a"]


def test_undone_entries_of_an_older_store_are_taken_over(store):
    """Entries written before entry ids were hashed (ObjectId ids, no pending list) are followed
    and marked done like new ones."""
    store.db.entries.insert_one(
        {"feed": "world", "key": "legacy", "link": "https://n.example/l", "done": False}
    )
    store.db.meta.delete_many({})
    store.ensure_indexes()
    assert [e.key for e in store.entries_to_follow("world")] == ["legacy"]
    store.mark_entry("world", "legacy", done=True, article="https://n.example/l")
    assert store.entries_to_follow("world") == []
    assert store.db.entries.count_documents({"key": "legacy", "done": True}) == 1


def test_known_articles_by_canonical_url(store):
    article = Article(url="https://n.example/k", title="t", text="x", feed="world", source="page")
    store.store_ingested([Ingested(article, (), (("world", "k"),))])
    assert store.known_articles(["https://n.example/k", "https://n.example/other"]) == {"https://n.example/k"}


def test_a_claim_is_taken_once_renewed_taken_over_and_given_back(store):
    from monitor.store import CRAWL_CLAIM, Holder, sending_claim

    me, other = Holder("here", 1, "7"), Holder("there", 2, "")
    assert store.claim(CRAWL_CLAIM, "a", timedelta(minutes=2), me)
    assert not store.claim(CRAWL_CLAIM, "b", timedelta(minutes=2), other)  # held: not run out
    held = store.claim_holder(CRAWL_CLAIM)
    assert (held.owner, held.host, held.pid, held.pid_start) == ("a", "here", 1, "7")
    assert held.until - held.since == timedelta(minutes=2)
    assert store.renew_claim(CRAWL_CLAIM, "a", timedelta(minutes=5))
    assert store.claim_holder(CRAWL_CLAIM).until - held.since >= timedelta(minutes=5)
    assert not store.claim(CRAWL_CLAIM, "b", timedelta(minutes=2), other, gone="not-the-holder")
    assert store.claim(CRAWL_CLAIM, "b", timedelta(minutes=2), other, gone="a")  # "a" is known dead
    assert not store.renew_claim(CRAWL_CLAIM, "a", timedelta(minutes=2))  # not ours any more
    store.release_claim(CRAWL_CLAIM, "a")  # only the owner gives it back
    assert store.claim_holder(CRAWL_CLAIM).owner == "b"
    store.release_claim(CRAWL_CLAIM, "b")
    assert store.claim_holder(CRAWL_CLAIM) is None
    # a digest's claim keeps where the recipient's next window starts, as it did
    window = datetime(2026, 11, 1, tzinfo=UTC)
    assert store.claim(sending_claim("alice@example.org"), "c", timedelta(minutes=10), me)
    store.release_claim(sending_claim("alice@example.org"), "c", window_from=window)
    assert store.digest_window("alice@example.org") == window
    assert store.claim_holder(sending_claim("alice@example.org")) is None
