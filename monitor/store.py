"""MongoDB storage: the only module that imports pymongo.

Collections, one purpose each: feeds (fetch state, health), entries (raw feed items), pending
(entries whose article is not stored yet), pages (fetched HTML, zlib-compressed), articles (clean
text, unique by canonical URL), matches (article x topic), deliveries (what was mailed to whom),
digests (which scheduled digest of a recipient is done), sending (per recipient: which process
is sending its digest now, until when, and where its next digest's window starts), crawling
(which process is crawling this store now, since and until when), robots (robots.txt kept a
day), meta (one-time migrations done), topics (per topic name, the signature of its definition
last applied to the stored articles: monitor.backfill). Unique indexes make every write
idempotent, so a crash and a re-run never duplicate. Writes use insert_many(ordered=False).

What a crawl looks up or marks again and again it finds by `_id`: entries and articles get
deterministic ids (hashes of feed + key, of the canonical URL). The embedded server answers an
`_id` or single-field equality query from an index, but scans the whole collection for `$in` on
any other field, a cost that would grow with every crawl's history.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from pymongo import ASCENDING, DESCENDING, MongoClient, ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    DuplicateKeyError,
    PyMongoError,
    ServerSelectionTimeoutError,
)

from monitor.config import StorageConfig
from monitor.embedded import EmbeddedServer, EmbeddedServerError
from monitor.models import Article, DigestItem, FeedEntry, Ingested, TopicHit

log = logging.getLogger(__name__)

DUPLICATE_KEY = 11000
StoreError = PyMongoError  # what callers catch when the database is unreachable or refuses a write
_PYMONGO_DETAIL = re.compile(r"( \(configured timeouts: [^)]*\))|(, Timeout: .*)|(, full error: .*)", re.S)


def unreachable(exc: BaseException) -> bool:
    """The database cannot be reached at all (not a refused write): what a crawl stops for."""
    return isinstance(exc, ServerSelectionTimeoutError | AutoReconnect)


def describe_error(exc: BaseException) -> str:
    """One line for a database error: pymongo's own text appends its timeouts and a dump of its
    topology (a few hundred characters that say nothing a user can act on), and a server that
    is not MongoDB at all shows as "Got response id 1414012997 but expected …"."""
    if isinstance(exc, ServerSelectionTimeoutError):
        text = _PYMONGO_DETAIL.sub("", str(exc)).strip()
        if "Got response id" in text or "message length" in text:
            return "the server at that address does not speak the MongoDB protocol (is it the right port?)"
        return f"the database cannot be reached: {text}"
    return _PYMONGO_DETAIL.sub("", str(exc)).strip() or type(exc).__name__


# Crawls that may try an entry's article (a page that fails for a while, an analysis that
# crashes) before it is given up on: a failing page then keeps the entry's own text
MAX_ATTEMPTS = 3


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | str | None) -> datetime | None:
    """Aware UTC datetimes for the core. The embedded server turns a datetime written by an
    update ($set) into an ISO string, so both forms are read back."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class FeedState:
    name: str
    url: str = ""
    etag: str = ""
    last_modified: str = ""
    last_fetch: datetime | None = None
    last_status: str = ""  # "ok", "not-modified", "partial" (cut short: see last_error), "error"
    last_success: datetime | None = None
    last_error: str = ""
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    fetches: int = 0
    new_items_total: int = 0
    retry_after: datetime | None = None
    failing_since: datetime | None = None  # start of the current run of failures

    @property
    def average_new_items(self) -> float:
        return self.new_items_total / self.fetches if self.fetches else 0.0


def _hashed_id(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=16).hexdigest()


def entry_id(feed: str, key: str) -> str:
    """The `_id` of a feed entry: the same (feed, key) always gets the same id."""
    return _hashed_id(feed, key)


def article_id(url: str) -> str:
    """The `_id` of an article, from its canonical URL."""
    return _hashed_id(url)


def _insert_new(collection: Collection, docs: list[dict]) -> set[int]:
    """Insert what is not there yet (by the unique index); return the positions that were new."""
    if not docs:
        return set()
    try:
        collection.insert_many(docs, ordered=False)
        return set(range(len(docs)))
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        return set(range(len(docs))) - {e["index"] for e in errors}


# Where a claim lives: (collection, _id). One process at a time may hold it (see `Store.claim`).
ClaimSpot = tuple[str, str]
CRAWL_CLAIM: ClaimSpot = ("crawling", "crawl")  # the crawl of this store
RUN_CLAIM: ClaimSpot = ("crawling", "run")  # the scheduler (`newsmon run`) of this store


def sending_claim(recipient: str) -> ClaimSpot:
    """Sending a recipient's digest; its document also keeps where the next digest's window starts."""
    return ("sending", recipient)


@dataclass(frozen=True)
class Holder:
    """Who takes a claim: enough to tell a live holder from one that is gone (same host, pid no
    longer running, or running but started at another time: a reused pid)."""

    host: str = ""
    pid: int = 0
    pid_start: str = ""  # the holder's start time as /proc/PID/stat gives it ("" where unknown)


@dataclass(frozen=True)
class Claim:
    """A claim held now: its owner (a token of the holder's own), until when it holds unless
    renewed, who holds it and since when."""

    owner: str
    until: datetime
    host: str = ""
    pid: int = 0
    pid_start: str = ""
    since: datetime | None = None  # None for a claim taken before newsmon recorded it


def _connect(uri: str, timeout_ms: int) -> MongoClient:
    return MongoClient(uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms, tz_aware=True)


class Store:
    def __init__(self, client: MongoClient, db_name: str = "newsmon"):
        self.client = client
        self.db = client[db_name]
        self.server: EmbeddedServer | None = None  # the embedded server this store started or joined
        self.server_port = 0  # and the port the client connects to
        self.timeout_ms = 5000

    # ------------------------------------------------------------ lifecycle

    @classmethod
    @contextlib.contextmanager
    def open(cls, storage: StorageConfig, *, timeout_ms: int = 5000) -> Iterator[Store]:
        """Connect (starting or joining the embedded server when so configured) and ensure indexes."""
        server = EmbeddedServer(storage.data_dir) if storage.embedded else None
        uri = server.acquire() if server else storage.mongodb_uri
        client = _connect(uri, timeout_ms)
        store: Store | None = None
        try:
            db_name = client.get_default_database("newsmon").name
            store = cls(client, db_name)
            store.server, store.timeout_ms = server, timeout_ms
            if server:
                store.server_port = int(uri.rstrip("/").rsplit(":", 1)[1])
            store.ensure_indexes()
            yield store
        finally:
            (store.client if store else client).close()  # revive() may have replaced the client
            if server:
                server.release()

    def revive(self) -> bool:
        """Restart the embedded server if it died while this process holds it (a one-off command
        owns its lease: nothing else would restart it); reconnect if it came back on another port.
        True if it was restarted, here or by another of its holders (a digest's own store) on a
        port this client does not use; False for an external database or a server running here."""
        if self.server is None:
            return False
        try:
            port = self.server.revive()
        except EmbeddedServerError as exc:  # said here for every holder; the caller carries on
            log.error("the embedded database stopped and could not be restarted: %s", exc)
            return False
        if port is None:  # running: but maybe restarted by another of its holders, on another port
            port = self.server.running_port()
            if port is None or port == self.server_port:
                return False
        if port != self.server_port:  # its old port was taken: this client still points there
            old = self.client
            self.client = _connect(f"mongodb://127.0.0.1:{port}/", self.timeout_ms)
            self.db = self.client[self.db.name]
            self.server_port = port
            old.close()
        return True

    def ping(self) -> None:
        self.client.admin.command("ping")

    def ensure_indexes(self) -> None:
        db = self.db
        db.feeds.create_index("name", unique=True)
        db.entries.create_index([("feed", ASCENDING), ("key", ASCENDING)], unique=True)
        db.pending.create_index("feed")
        db.pages.create_index("url", unique=True)
        db.articles.create_index("url", unique=True)
        db.articles.create_index([("stored_at", DESCENDING)])
        db.matches.create_index([("article", ASCENDING), ("topic", ASCENDING)], unique=True)
        db.matches.create_index([("topic", ASCENDING), ("matched_at", DESCENDING)])
        db.deliveries.create_index([("recipient", ASCENDING), ("article", ASCENDING)], unique=True)
        db.digests.create_index([("recipient", ASCENDING), ("slot", ASCENDING)], unique=True)
        db.robots.create_index("netloc", unique=True)
        self._track_pending_entries()

    def _track_pending_entries(self) -> None:
        """Once per store: list in `pending` the entries left undone by versions before it existed."""
        if self.db.meta.find_one({"_id": "pending"}) is not None:
            return
        docs = [
            {"_id": d["_id"], "feed": d["feed"]} for d in self.db.entries.find({"done": False}, {"feed": 1})
        ]
        _insert_new(self.db.pending, docs)
        self.db.meta.update_one({"_id": "pending"}, {"$set": {"since": utcnow()}}, upsert=True)

    # ------------------------------------------------------------ feeds

    def feed_states(self, names: Iterable[str] | None = None) -> dict[str, FeedState]:
        query = {"name": {"$in": list(names)}} if names is not None else {}
        out = {}
        for d in self.db.feeds.find(query, {"_id": 0}):
            fields = {k: v for k, v in d.items() if k in FeedState.__dataclass_fields__}
            for k in ("last_fetch", "last_success", "last_error_at", "retry_after", "failing_since"):
                fields[k] = _aware(fields.get(k))
            out[d["name"]] = FeedState(**fields)
        return out

    def record_feed_success(
        self,
        name: str,
        url: str,
        *,
        not_modified: bool,
        etag: str,
        last_modified: str,
        new_items: int,
        partial: str = "",
    ) -> None:
        """Advance validators and health. Call only after the fetch's new entries are stored.
        `partial`: why the document was only partly read (its entries up to there were stored),
        shown by `newsmon feeds` until the next fetch."""
        now = utcnow()
        update: dict = {
            "$set": {
                "url": url,
                "last_fetch": now,
                "last_success": now,
                "last_status": "not-modified" if not_modified else "partial" if partial else "ok",
                "consecutive_failures": 0,
                "retry_after": None,
                "failing_since": None,
            },
            "$inc": {"fetches": 1, "new_items_total": new_items},
        }
        if partial:
            update["$set"].update(last_error=partial[:500], last_error_at=now)
        if not not_modified:
            update["$set"].update(etag=etag, last_modified=last_modified)
        self.db.feeds.update_one({"name": name}, update, upsert=True)

    def record_feed_failure(
        self,
        name: str,
        url: str,
        error: str,
        retry_after: datetime | None = None,
        *,
        forget_validators: bool = False,
    ) -> None:
        now = utcnow()
        self.db.feeds.update_one({"name": name, "failing_since": None}, {"$set": {"failing_since": now}})
        self.db.feeds.update_one(
            {"name": name},
            {
                "$set": {
                    "url": url,
                    "last_fetch": now,
                    "last_status": "error",
                    "last_error": error[:500],
                    "last_error_at": now,
                    "retry_after": retry_after,
                },
                "$inc": {"consecutive_failures": 1},
                "$setOnInsert": {"failing_since": now},
            },
            upsert=True,
        )
        if forget_validators:
            self.db.feeds.update_one({"name": name}, {"$set": {"etag": "", "last_modified": ""}})

    def robots_txt(self, netloc: str, max_age: timedelta) -> bytes | None:
        """A site's robots.txt as last fetched, if younger than max_age."""
        d = self.db.robots.find_one({"netloc": netloc})
        if d is None or utcnow() - _aware(d["fetched_at"]) > max_age:
            return None
        return bytes(d["body"])

    def save_robots_txt(self, netloc: str, body: bytes) -> None:
        self.db.robots.update_one(
            {"netloc": netloc}, {"$set": {"body": body, "fetched_at": utcnow()}}, upsert=True
        )

    # ------------------------------------------------------------ entries and pages

    def store_entries(self, entries: list[FeedEntry], *, fetched_at: datetime | None = None) -> int:
        """Insert the entries not stored yet, each listed as pending; return how many were new.

        Entries first, then their `pending` rows: a crash between the two leaves entries that
        `entries_to_follow` still finds through the next fetch of the same feed (the feed's
        validators have not advanced, so that fetch returns them again)."""
        if not entries:
            return 0
        fetched_at = fetched_at or utcnow()
        docs = [
            {
                "_id": entry_id(e.feed, e.key),
                "feed": e.feed,
                "key": e.key,
                "link": e.link,
                "title": e.title,
                "summary": e.summary,
                "content": e.content,
                "content_html": e.content_html,
                "author": e.author,
                "published": e.published,
                "language": e.language,
                "fetched_at": fetched_at,
                "done": False,
                "attempts": 0,
            }
            for e in entries
        ]
        new = _insert_new(self.db.entries, docs)
        _insert_new(self.db.pending, [{"_id": docs[i]["_id"], "feed": docs[i]["feed"]} for i in sorted(new)])
        return len(new)

    def entries_to_follow(
        self, feed: str, fetched: Iterable[FeedEntry] = (), max_attempts: int = MAX_ATTEMPTS
    ) -> list[FeedEntry]:
        """Stored entries of a feed whose article is not stored yet: new ones, or left by an earlier
        crash. `fetched` are the entries of the feed as just fetched (checked too, by id)."""
        pending = [d["_id"] for d in self.db.pending.find({"feed": feed}, {"_id": 1})]
        ids = list(dict.fromkeys([*pending, *(entry_id(e.feed, e.key) for e in fetched)]))
        if not ids:
            return []
        found = {d["_id"]: d for d in self.db.entries.find({"_id": {"$in": ids}})}
        follow = [d for d in found.values() if not d.get("done") and d.get("attempts", 0) < max_attempts]
        following = {d["_id"] for d in follow}
        settled = [i for i in pending if i not in following]
        if settled:  # done, given up, or never stored: nothing more to follow
            self.db.pending.delete_many({"_id": {"$in": settled}})
        return [self._entry(d) for d in follow]

    @staticmethod
    def _entry(d: dict) -> FeedEntry:
        return FeedEntry(
            feed=d["feed"],
            key=d["key"],
            link=d["link"],
            title=d.get("title", ""),
            summary=d.get("summary", ""),
            content=d.get("content", ""),
            content_html=d.get("content_html", ""),
            author=d.get("author", ""),
            published=_aware(d.get("published")),
            language=d.get("language", ""),
            attempts=d.get("attempts", 0),
        )

    def mark_entry(self, feed: str, key: str, *, done: bool, article: str = "", error: str = "") -> None:
        update: dict = {"$set": {"done": done, "article": article, "error": error[:500]}}
        if not done:
            update["$inc"] = {"attempts": 1}
        eid = entry_id(feed, key)
        if not self.db.entries.update_one({"_id": eid}, update).matched_count:
            self.db.entries.update_one({"feed": feed, "key": key}, update)  # stored before ids were hashed
        if done:
            self.db.pending.delete_one({"_id": eid})

    # ------------------------------------------------------------ articles

    def known_articles(self, urls: Iterable[str]) -> set[str]:
        urls = list(set(urls))
        if not urls:
            return set()
        return {
            d["url"]
            for d in self.db.articles.find({"_id": {"$in": [article_id(u) for u in urls]}}, {"url": 1})
        }

    def add_article_feed(self, url: str, feed: str) -> None:
        self.db.articles.update_one({"url": url}, {"$addToSet": {"feeds": feed}})

    @staticmethod
    def _article_doc(article: Article) -> dict:
        return {
            "_id": article_id(article.url),
            "url": article.url,
            "title": article.title,
            "text": article.text,
            "feed": article.feed,
            "feeds": sorted({article.feed, *article.feeds}),
            "source": article.source,
            "fetched_url": article.fetched_url,
            "authors": list(article.authors),
            "published": article.published,
            "language": article.language,
            "image": article.image,
            "note": article.note,
            "host": urlsplit(article.url).hostname or "",
            "stored_at": utcnow(),
        }

    def attach_entries(self, url: str, entries: list[tuple[str, str]]) -> None:
        """More entries (feed, key) that led to an article already stored."""
        for feed in sorted({feed for feed, _ in entries}):
            self.add_article_feed(url, feed)
        self._mark_done(entries, article=url)

    def _mark_done(self, entries: list[tuple[str, str]], article: str = "") -> None:
        pairs = list(dict.fromkeys(entries))
        if not pairs:
            return
        ids = [entry_id(feed, key) for feed, key in pairs]
        done = {"$set": {"done": True, "article": article} if article else {"done": True}}
        result = self.db.entries.update_many({"_id": {"$in": ids}}, done)
        if result.matched_count < len(ids):  # entries stored before ids were hashed
            for feed, key in pairs:
                self.db.entries.update_one({"feed": feed, "key": key}, done)
        self.db.pending.delete_many({"_id": {"$in": ids}})

    def store_ingested(self, batch: list[Ingested]) -> tuple[int, int]:
        """Store a batch of crawled articles with a handful of round trips; (new articles, new matches).

        Order matters for "nothing lost": pages, articles and matches first, and only then are
        the entries that led to them marked done. Every step is idempotent, so a batch cut short
        by a database failure is simply redone by the next crawl.
        """
        if not batch:
            return 0, 0
        now = utcnow()
        pages = [
            {
                "url": i.page_url,
                "status": i.page_status,
                "content_type": i.page_type,
                "size": i.page_size,
                "body_zlib": i.page_zlib,
                "fetched_at": now,
            }
            for i in batch
            if i.page_zlib is not None
        ]
        _insert_new(self.db.pages, pages)
        new = _insert_new(self.db.articles, [self._article_doc(i.article) for i in batch])
        for pos, item in enumerate(batch):
            if pos not in new:  # stored before (another feed, an earlier crawl): remember these feeds too
                for feed in sorted({item.article.feed, *item.article.feeds}):
                    self.add_article_feed(item.article.url, feed)
        match_docs = [doc for i in batch for doc in self._match_docs(i.article, i.hits, now)]
        matched = _insert_new(self.db.matches, match_docs)
        self._mark_done([pair for item in batch for pair in item.entries])
        return len(new), len(matched)

    def iter_articles(
        self, since: datetime | None = None, *, topic: str | None = None, limit: int = 0
    ) -> Iterator[Article]:
        query: dict = {}
        if since:
            query["stored_at"] = {"$gte": since}
        if topic:
            urls = [d["article"] for d in self.db.matches.find({"topic": topic}, {"article": 1})]
            query["url"] = {"$in": urls}
        cursor = self.db.articles.find(query, {"_id": 0}).sort("stored_at", DESCENDING)
        if limit:
            cursor = cursor.limit(limit)
        for d in cursor:
            yield Article(
                url=d["url"],
                title=d.get("title", ""),
                text=d.get("text", ""),
                feed=d.get("feed", ""),
                source=d.get("source", ""),
                fetched_url=d.get("fetched_url", ""),
                authors=tuple(d.get("authors", ())),
                published=_aware(d.get("published")),
                language=d.get("language", ""),
                image=d.get("image", ""),
                feeds=tuple(d.get("feeds", ())),
                note=d.get("note", ""),
            )

    def article_topics(self, urls: list[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for d in self.db.matches.find({"article": {"$in": urls}}, {"article": 1, "topic": 1}):
            out.setdefault(d["article"], []).append(d["topic"])
        return out

    def count_articles_by_feed(self) -> dict[str, int]:
        rows = self.db.articles.aggregate([{"$group": {"_id": "$feed", "n": {"$sum": 1}}}])
        return {r["_id"]: r["n"] for r in rows}

    # ------------------------------------------------------------ matches

    @staticmethod
    def _match_docs(
        article: Article, hits: tuple[TopicHit, ...] | list[TopicHit], now: datetime
    ) -> list[dict]:
        return [
            {
                "article": article.url,
                "topic": h.topic,
                "terms": list(h.terms),
                "snippet": h.snippet,
                "highlights": [list(x) for x in h.highlights],
                "score": h.score,
                "title": article.title,
                "feed": article.feed,
                "published": article.published,
                "matched_at": now,
            }
            for h in hits
        ]

    def add_matches(self, matched: list[tuple[Article, list[TopicHit]]], now: datetime) -> dict[str, int]:
        """Matches for articles already stored (a topic applied after them): pairs matched before
        are kept as they were (the unique index drops the copy). How many were added, per topic."""
        docs = [doc for article, hits in matched for doc in self._match_docs(article, hits, now)]
        added: dict[str, int] = {}
        for pos in _insert_new(self.db.matches, docs):
            added[docs[pos]["topic"]] = added.get(docs[pos]["topic"], 0) + 1
        return added

    def topic_signatures(self) -> dict[str, str]:
        """Topic name -> the signature of its definition when it was last applied to stored articles."""
        return {d["_id"]: d["signature"] for d in self.db.topics.find({}, {"signature": 1})}

    def record_topic_signature(self, name: str, signature: str, *, articles: int, matches: int) -> None:
        applied = {"signature": signature, "applied_at": utcnow(), "articles": articles, "matches": matches}
        self.db.topics.update_one({"_id": name}, {"$set": applied}, upsert=True)

    # ------------------------------------------------------------ claims

    def claim(self, spot: ClaimSpot, owner: str, ttl: timedelta, holder: Holder, *, gone: str = "") -> bool:
        """Take `spot` for `ttl`, atomically: False when another holds a claim on it that has not
        run out. One document per spot, updated only when its claim is free or expired, else the
        upsert collides with its `_id` (DuplicateKeyError on MongoDB; the embedded server answers
        no document instead). Times are epoch seconds, so the server compares numbers (it would
        turn a datetime written by $set into a string). `gone`: take the claim from that owner,
        known to be dead, whatever its time, and only while it still has it, so that of two
        taking it over at once one gets it."""
        collection, key = spot
        now = utcnow().timestamp()
        query = {"_id": key, "owner": gone} if gone else {"_id": key, "until": {"$lt": now}}
        claim = {"owner": owner, "until": now + ttl.total_seconds(), "since": now}
        try:
            doc = self.db[collection].find_one_and_update(
                query,
                {"$set": {**claim, "host": holder.host, "pid": holder.pid, "pid_start": holder.pid_start}},
                upsert=not gone,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False
        return doc is not None and doc.get("owner") == owner

    def renew_claim(self, spot: ClaimSpot, owner: str, ttl: timedelta) -> bool:
        """Hold our claim `ttl` longer; False when it is ours no more (taken over, or given back)."""
        collection, key = spot
        until = utcnow().timestamp() + ttl.total_seconds()
        return (
            self.db[collection]
            .update_one({"_id": key, "owner": owner}, {"$set": {"until": until}})
            .matched_count
            > 0
        )

    def claim_holder(self, spot: ClaimSpot) -> Claim | None:
        """The claim on `spot`, if one is held (and not run out)."""
        collection, key = spot
        doc = self.db[collection].find_one({"_id": key})
        if not doc or not doc.get("owner") or float(doc.get("until", 0.0)) < utcnow().timestamp():
            return None
        since = doc.get("since")
        return Claim(
            owner=doc["owner"],
            until=datetime.fromtimestamp(float(doc["until"]), UTC),
            host=doc.get("host", ""),
            pid=int(doc.get("pid", 0) or 0),
            pid_start=doc.get("pid_start", ""),
            since=datetime.fromtimestamp(float(since), UTC) if since is not None else None,
        )

    def release_claim(self, spot: ClaimSpot, owner: str, **also: object) -> None:
        """Give a claim back (only our own: one that ran out may be someone else's by now), setting
        the fields in `also` on its document as it goes."""
        collection, key = spot
        self.db[collection].update_one(
            {"_id": key, "owner": owner}, {"$set": {"owner": "", "until": 0.0, **also}}
        )

    # ------------------------------------------------------------ digests

    def unsent_items(
        self, recipient: str, topics: Iterable[str], since: datetime, before: datetime | None = None
    ) -> list[DigestItem]:
        """Matches on these topics since `since` (and before `before`) whose article was never
        mailed to this recipient."""
        matched_at = {"$gte": since, "$lt": before} if before else {"$gte": since}
        rows = list(
            self.db.matches.find({"topic": {"$in": list(topics)}, "matched_at": matched_at}, {"_id": 0})
        )
        if not rows:
            return []
        articles = list({r["article"] for r in rows})
        sent = {
            d["article"]
            for d in self.db.deliveries.find(
                {"recipient": recipient, "article": {"$in": articles}}, {"article": 1}
            )
        }
        return [
            DigestItem(
                article_url=r["article"],
                title=r.get("title", ""),
                feed=r.get("feed", ""),
                published=_aware(r.get("published")),
                topic=r["topic"],
                topics=(r["topic"],),
                snippet=r.get("snippet", ""),
                highlights=tuple(tuple(x) for x in r.get("highlights", ())),
                score=float(r.get("score", 0.0)),
                matched_at=_aware(r["matched_at"]),
            )
            for r in rows
            if r["article"] not in sent
        ]

    def record_delivery(self, recipient: str, articles: list[str], message_id: str, reply: str) -> None:
        """Called only after the SMTP server accepted the message (or the outbox file was written)."""
        now = utcnow()
        docs = [
            {"recipient": recipient, "article": a, "message_id": message_id, "reply": reply, "sent_at": now}
            for a in articles
        ]
        _insert_new(self.db.deliveries, docs)

    def digest_window(self, recipient: str) -> datetime | None:
        """Where the recipient's digest window was left (None before its first digest)."""
        doc = self.db.sending.find_one({"_id": recipient}, {"window_from": 1})
        return _aware(doc.get("window_from")) if doc else None

    def digest_done(self, recipient: str, slot: datetime) -> bool:
        return self.db.digests.count_documents({"recipient": recipient, "slot": slot}, limit=1) > 0

    def record_digest(self, recipient: str, slot: datetime, items: int, message_id: str) -> None:
        with contextlib.suppress(DuplicateKeyError):  # the same slot finished by another process: fine
            self.db.digests.insert_one(
                {
                    "recipient": recipient,
                    "slot": slot,
                    "items": items,
                    "message_id": message_id,
                    "done_at": utcnow(),
                }
            )

    def deliveries_count(self, recipient: str | None = None) -> int:
        return self.db.deliveries.count_documents({"recipient": recipient} if recipient else {})

    # ------------------------------------------------------------ stats

    def counts(self) -> dict[str, int]:
        names = ("feeds", "entries", "pages", "articles", "matches", "deliveries")
        return {n: self.db[n].estimated_document_count() for n in names}
