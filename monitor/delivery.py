"""Send the digests that are due: select, render, send, and record only what was accepted."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.config import Config, Recipient
from monitor.digest import LOOKBACK, MAX_BACKLOG, build_digest, build_message, due_slot, window_start
from monitor.feeds import FAILING_FOR
from monitor.mail import MailError, send, write_outbox
from monitor.store import Store, StoreError

log = logging.getLogger(__name__)

# How long a sender's claim on a recipient lasts. A send takes seconds (each SMTP step times out
# after SMTP_TIMEOUT_S); a sender that crashed keeps its recipient's digest waiting this long.
CLAIM_TTL = timedelta(minutes=10)
# Recording a digest the server accepted: tries, 2 s apart (each waits for the database up to
# its own timeout), so that a database restarting meanwhile (`newsmon run` revives the embedded
# one within 5 s) does not make the digest go out twice
RECORD_ATTEMPTS = 2
RECORD_PAUSE_S = 2.0


@dataclass(frozen=True)
class DigestResult:
    recipient: str
    status: str  # "sent", "nothing-new", "not-due", "in-progress", "failed", "dry-run"
    items: int = 0
    detail: str = ""


def failing_feeds(config: Config, store: Store, now: datetime) -> tuple[tuple[str, str], ...]:
    """Feeds that have been failing for more than a day: named in the footer, never dropped silently."""
    states = store.feed_states([f.name for f in config.feeds])
    return tuple(
        (name, state.last_error)
        for name, state in sorted(states.items())
        if state.failing_since and now - state.failing_since > FAILING_FOR
    )


def send_digest(
    config: Config,
    store: Store,
    recipient: Recipient,
    now: datetime,
    *,
    force: bool = False,
    dry_run: bool = False,
) -> DigestResult:
    """Send one recipient's unsent items, once. Sending is claimed first, atomically in the
    database, so a second sender at the same time (another `newsmon digest`, or `newsmon run`'s
    after-crawl digest beside the recipient's own job) sends nothing; what it would have sent is
    in the first one's digest, or in the next."""
    slot = now if force else due_slot(recipient.at, recipient.timezone, now)
    if slot is None or (not force and store.digest_done(recipient.email, slot)):  # a dry run previews
        return DigestResult(recipient.email, "not-due")  # the real run
    if dry_run:  # records nothing, so it needs no claim
        start = window_start(store.digest_window(recipient.email), now)
        return _compose_and_send(config, store, recipient, now, slot, start, dry_run=True)
    owner = uuid.uuid4().hex
    if not store.claim_digest(recipient.email, owner, CLAIM_TTL):
        return DigestResult(
            recipient.email, "in-progress", detail="another newsmon is sending this digest now"
        )
    window = None  # where the next digest's window starts: unchanged unless set below
    try:
        if not force and store.digest_done(recipient.email, slot):  # done while we were getting here
            return DigestResult(recipient.email, "not-due")
        left = store.digest_window(recipient.email)
        start = window_start(left, now)
        _warn_aged_out(store, recipient, left, start)
        window = start  # past what just aged out (said once), and kept while sends fail
        result = _compose_and_send(config, store, recipient, now, slot, start)
        if result.status in ("sent", "nothing-new"):  # everything unsent up to now is handled
            window = now - LOOKBACK
        return result
    finally:
        store.release_digest(recipient.email, owner, window)


def _warn_aged_out(store: Store, recipient: Recipient, left: datetime | None, start: datetime) -> None:
    """Unsent matches the window leaves behind (no digest went out for MAX_BACKLOG) are never
    mailed: say so, once, since the window only moves forward."""
    if left is None or left >= start:
        return
    aged = {i.article_url for i in store.unsent_items(recipient.email, recipient.topics, left, before=start)}
    if aged:
        log.warning(
            "%s: %d unsent item%s matched %s to %s will not be mailed: no digest reached this "
            "recipient for over %d days",
            recipient.email,
            len(aged),
            "s" if len(aged) != 1 else "",
            f"{left:%Y-%m-%d %H:%M}",
            f"{start:%Y-%m-%d %H:%M} UTC",
            MAX_BACKLOG.days,
        )


def _compose_and_send(
    config: Config,
    store: Store,
    recipient: Recipient,
    now: datetime,
    slot: datetime,
    start: datetime,
    *,
    dry_run: bool = False,
) -> DigestResult:
    """Select (unsent matches since `start`), render and send (or render to the outbox); record
    only what the server accepted."""
    items = store.unsent_items(recipient.email, recipient.topics, start)
    digest = build_digest(recipient.email, recipient.topics, items, now, failing_feeds(config, store, now))
    if not len(digest):
        if not dry_run:
            store.record_digest(recipient.email, slot, 0, "")
        return DigestResult(recipient.email, "nothing-new")
    msg = build_message(digest, config.mail.sender, recipient.timezone)
    if dry_run:
        path = write_outbox(msg, config.outbox, tag="-dry-run")
        return DigestResult(recipient.email, "dry-run", len(digest), str(path))
    try:
        reply = send(msg, config.mail, config.outbox, to=recipient.email)
    except MailError as exc:
        log.error("digest for %s not sent: %s (will retry)", recipient.email, exc)
        return DigestResult(recipient.email, "failed", len(digest), str(exc))
    # accepted: from here on these articles are never mailed to this recipient again
    try:
        _record_sent(store, recipient.email, digest.articles, msg["Message-ID"], reply, slot, len(digest))
    except StoreError:  # the mail is out; say so, since the next digest will carry these items again
        log.error(
            "digest for %s was accepted (%s, Message-ID %s) but the database could not record it:"
            " its %d items will be in the next digest again",
            recipient.email,
            reply,
            msg["Message-ID"],
            len(digest),
        )
        raise
    return DigestResult(recipient.email, "sent", len(digest), reply)


def _record_sent(
    store: Store, email: str, articles: list[str], message_id: str, reply: str, slot: datetime, items: int
) -> None:
    """Record an accepted digest, trying again for a few seconds: a database that blinks (a
    failover, an embedded server restarting) should not make a digest go out twice."""
    for attempt in range(RECORD_ATTEMPTS):
        try:
            store.record_delivery(email, articles, message_id, reply)
            store.record_digest(email, slot, items, message_id)
            return
        except StoreError:
            if attempt == RECORD_ATTEMPTS - 1:
                raise
            time.sleep(RECORD_PAUSE_S)


def send_due_digests(
    config: Config,
    store: Store,
    now: datetime,
    *,
    to: list[str] | None = None,
    force: bool = False,
    dry_run: bool = False,
) -> list[DigestResult]:
    results = []
    for recipient in config.recipients:
        if to and recipient.email not in to:
            continue
        results.append(send_digest(config, store, recipient, now, force=force, dry_run=dry_run))
    return results
