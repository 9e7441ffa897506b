"""Send the digests that are due: select, render, send, and record only what was accepted."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor import claims
from monitor.config import Config, Recipient
from monitor.digest import (
    LOOKBACK,
    MAX_BACKLOG,
    build_digest,
    build_message,
    due_slot,
    is_news,
    window_start,
)
from monitor.feeds import FAILING_FOR
from monitor.mail import MailError, send, write_outbox
from monitor.store import Claim, Store, StoreError, describe_error, sending_claim

log = logging.getLogger(__name__)

# How long a sender's claim on a recipient lasts. A send takes seconds (each SMTP step times out
# after SMTP_TIMEOUT_S); a sender that crashed keeps its recipient's digest waiting this long.
CLAIM_TTL = timedelta(minutes=10)
# Recording a digest the server accepted: tries, 2 s apart (each waits for the database up to
# its own timeout), restarting the embedded database in between if it died (a one-off command
# owns its lease: nothing else restarts it). What still cannot be recorded stays in the journal.
RECORD_ATTEMPTS = 2
RECORD_PAUSE_S = 2.0
# <data_dir>/JOURNAL_DIR/<recipient>.json: the digest being sent, written before the SMTP
# transaction and marked accepted on the server's 250; removed once the database recorded it
JOURNAL_DIR = "sending"


@dataclass(frozen=True)
class Journal:
    """A digest on its way out, kept on local disk so that one the server accepted is recorded
    (and never mailed again) even when the database was gone when it was accepted."""

    recipient: str
    slot: str  # ISO: the scheduled slot (or the --now time) the digest is for
    articles: tuple[str, ...]
    message_id: str
    items: int
    accepted: bool = False  # the server answered 250 to DATA (or the outbox file was written)
    reply: str = ""
    written_at: str = ""
    pid: int = 0


def journal_path(data_dir: Path, email: str) -> Path:
    """One file per recipient; the address in the name for people, a hash against collisions."""
    safe = re.sub(r"[^A-Za-z0-9@._-]+", "_", email)[:80]
    digest = hashlib.blake2b(email.lower().encode(), digest_size=4).hexdigest()
    return data_dir / JOURNAL_DIR / f"{safe}-{digest}.json"


def write_journal(path: Path, journal: Journal) -> None:
    """Atomically and durably: a crash leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(asdict(journal), fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_journal(path: Path) -> Journal | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return Journal(**{**data, "articles": tuple(data["articles"])})


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


def due_now(config: Config, store: Store, now: datetime) -> set[str]:
    """The recipients a digest run now would mail (given items): today's `at` has passed in
    their time zone and today's digest has not gone out (a recipient added after `at` included)."""
    due = set()
    for r in config.recipients:
        slot = due_slot(r.at, r.timezone, now)
        if slot is not None and not store.digest_done(r.email, slot):
            due.add(r.email)
    return due


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
        journal_file = journal_path(config.storage.data_dir, recipient.email)  # not written
        return _compose_and_send(config, store, recipient, now, slot, start, journal_file, dry_run=True)
    owner, spot = uuid.uuid4().hex, sending_claim(recipient.email)
    # taking over at once the claim of a sender of this host that is gone
    if not claims.acquire(
        store, spot, owner, CLAIM_TTL, f"{recipient.email}: the newsmon that claimed this digest"
    ):
        return DigestResult(recipient.email, "in-progress", detail=_held_by(store.claim_holder(spot)))
    window = None  # where the next digest's window starts: unchanged unless set below
    try:
        journal_file = journal_path(config.storage.data_dir, recipient.email)
        unrecorded = _replay(store, journal_file)
        if unrecorded:  # an accepted digest the database does not know: sending now could repeat it
            return DigestResult(recipient.email, "failed", detail=unrecorded)
        if not force and store.digest_done(recipient.email, slot):  # done while we were getting here
            return DigestResult(recipient.email, "not-due")
        left = store.digest_window(recipient.email)
        start = window_start(left, now)
        _warn_aged_out(store, recipient, left, start)
        window = start  # past what just aged out (said once), and kept while sends fail
        result = _compose_and_send(config, store, recipient, now, slot, start, journal_file)
        if result.status in ("sent", "nothing-new"):  # everything unsent up to now is handled
            window = now - LOOKBACK
        return result
    finally:
        _release(store, recipient.email, owner, window)


def _held_by(claim: Claim | None) -> str:
    """The in-progress line: who is sending, and until when its claim holds."""
    if claim is None:  # released between our try and this look
        return "another newsmon was sending this digest just now"
    who = f"pid {claim.pid} on {claim.host}" if claim.pid else "another newsmon"
    return f"{who} is sending this digest now; its claim holds until {claim.until:%Y-%m-%d %H:%M:%S} UTC"


def _release(store: Store, email: str, owner: str, window: datetime | None) -> None:
    """Give the claim back. A database gone by now keeps it: said, since the next run of this
    host takes over a claim whose process has exited (others wait until it runs out)."""
    try:
        store.release_claim(
            sending_claim(email), owner, **({"window_from": window} if window is not None else {})
        )
    except StoreError as exc:
        log.warning("%s: could not give back the sending claim: %s", email, describe_error(exc))


def _replay(store: Store, path: Path) -> str:
    """Record a digest the server accepted but the database did not get (journal left by a send
    whose database went away); drop one whose outcome is unknown. "" when done, else why the
    digest must not be sent now."""
    try:
        journal = read_journal(path)
    except (OSError, ValueError, TypeError, KeyError) as exc:  # unreadable: keep it for a person
        return f"not sent: the delivery journal {path} cannot be read ({exc})"
    if journal is None:
        return ""
    if not journal.accepted:
        log.warning(
            "%s: a digest (Message-ID %s, %d items) was being sent when its newsmon stopped; whether "
            "the server accepted it is unknown: its items stay unsent (they may reach the recipient twice)",
            journal.recipient,
            journal.message_id,
            journal.items,
        )
        path.unlink(missing_ok=True)
        return ""
    try:
        _record_sent(store, journal)
    except StoreError as exc:
        return (
            f"not sent: the digest accepted at {journal.written_at} (Message-ID {journal.message_id}) "
            f"is not recorded yet: database error: {describe_error(exc)}"
        )
    log.warning(
        "%s: recorded the digest the server accepted at %s (Message-ID %s, %d items) from %s",
        journal.recipient,
        journal.written_at,
        journal.message_id,
        journal.items,
        path,
    )
    path.unlink(missing_ok=True)
    return ""


def _warn_aged_out(store: Store, recipient: Recipient, left: datetime | None, start: datetime) -> None:
    """Unsent matches the window leaves behind (no digest went out for MAX_BACKLOG) are never
    mailed: say so, once, since the window only moves forward."""
    if left is None or left >= start:
        return
    unsent = store.unsent_items(recipient.email, recipient.topics, left, before=start)
    aged = {i.article_url for i in unsent if is_news(i)}  # old news was never to be mailed
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
    journal_file: Path,
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
    journal = Journal(
        recipient.email,
        slot.isoformat(),
        tuple(digest.articles),
        msg["Message-ID"],
        len(digest),
        written_at=datetime.now(UTC).isoformat(timespec="seconds"),
        pid=os.getpid(),
    )
    try:  # before the server gets it: a digest whose acceptance the database misses is found here
        write_journal(journal_file, journal)
    except OSError as exc:
        log.error("digest for %s not sent: cannot write %s: %s", recipient.email, journal_file, exc)
        return DigestResult(recipient.email, "failed", len(digest), f"cannot write {journal_file}: {exc}")
    try:
        reply = send(msg, config.mail, config.outbox, to=recipient.email)
    except MailError as exc:
        log.error("digest for %s not sent: %s (will retry)", recipient.email, exc)
        journal_file.unlink(missing_ok=True)
        return DigestResult(recipient.email, "failed", len(digest), str(exc))
    # accepted: from here on these articles are never mailed to this recipient again
    journal = replace(journal, accepted=True, reply=reply)
    try:
        write_journal(journal_file, journal)
    except OSError as exc:  # the database may still record it; if not, it can go out twice
        log.error("%s: cannot mark the digest accepted in %s: %s", recipient.email, journal_file, exc)
    try:
        _record_sent(store, journal)
    except StoreError as exc:  # the mail is out and the journal says so: the next run records it
        log.error(
            "digest for %s was accepted (%s, Message-ID %s) but the database could not record it (%s):"
            " kept in %s; the next digest records it first and does not mail its %d items again",
            recipient.email,
            reply,
            msg["Message-ID"],
            describe_error(exc),
            journal_file,
            len(digest),
        )
        raise
    journal_file.unlink(missing_ok=True)
    return DigestResult(recipient.email, "sent", len(digest), reply)


def _record_sent(store: Store, journal: Journal) -> None:
    """Record an accepted digest, trying again for a few seconds: a database that blinks (a
    failover, an embedded server killed) should not leave it unrecorded. The embedded server is
    restarted in between when it died: in a one-off command nothing else would."""
    slot = datetime.fromisoformat(journal.slot)
    for attempt in range(RECORD_ATTEMPTS):
        try:
            store.record_delivery(
                journal.recipient, list(journal.articles), journal.message_id, journal.reply
            )
            store.record_digest(journal.recipient, slot, journal.items, journal.message_id)
            return
        except StoreError as exc:
            if attempt == RECORD_ATTEMPTS - 1:
                raise
            log.debug("recording the digest for %s failed (%s); trying again", journal.recipient, exc)
            if store.revive():
                log.warning("the embedded database had stopped; restarted it to record the digest")
            else:
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
