"""`newsmon run`: APScheduler 3.x with its job store in MongoDB.

Crawls run one at a time, each in a process of its own (Twisted's reactor cannot restart in a
process, and a crawl that hangs or leaks must not take the scheduler down), forked from a server
that imported the crawl stack once (`monitor.crawl.launcher`). Each
recipient's digest is a cron job in the recipient's time zone; because jobs persist, a
digest missed while the process was down runs once on restart (coalesced, no grace limit),
and the per-slot record in the database makes a second run of the same slot send nothing. The
after-crawl digest can run beside a recipient's own job: the claim `delivery` takes on the
recipient makes one of them send and the other report `in-progress`.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
import time
import uuid
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.mongodb import MongoDBJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor import claims
from monitor.backfill import apply_changed_topics
from monitor.cli import CRAWL_NOT_STARTED, EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_TEMPFAIL
from monitor.config import Config, ConfigError, Recipient, format_duration, load_config
from monitor.crawl.launcher import CrawlLauncher
from monitor.delivery import due_now, send_due_digests
from monitor.store import RUN_CLAIM, Store, StoreError, describe_error

log = logging.getLogger("newsmon.scheduler")

JOBS_COLLECTION = "scheduler_jobs"
REVIVE_CHECK_S = 5  # how often a scheduler on the embedded database checks that it still runs
RUN_CLAIM_TTL = timedelta(minutes=2)  # a `run` killed on another host blocks the next for this long
RUN_CLAIM_RENEW_S = 30
_launcher = CrawlLauncher()
_scheduler: BackgroundScheduler | None = None  # the running `newsmon run`'s, for jobs to add jobs


def crawl_job(config_path: str, signature: str = "") -> None:
    """One crawl in its own process; then any digest that is due (a failed send retries here)."""
    started = datetime.now(UTC)
    run = _launcher.crawl(config_path)
    if run is None:  # the scheduler is stopping
        return
    took = (datetime.now(UTC) - started).total_seconds()
    summary = run.output.strip().replace("\n", " | ")
    if run.exit_code == EXIT_CONFIG:  # its problems went to stderr, one a line
        log.error(
            "crawl not run: %s has errors (`newsmon check` lists them); the next crawl reads it again",
            config_path,
        )
        return
    if run.exit_code == EXIT_INTERRUPTED:  # `run` is stopping: the crawl finished what was in flight
        log.warning("crawl interrupted after %.1fs: %s", took, summary)
        return
    if run.exit_code == EXIT_TEMPFAIL:  # another crawl holds the store (`newsmon crawl` by hand)
        log.warning(
            "crawl skipped: %s; the next one runs at its time", summary.removeprefix(CRAWL_NOT_STARTED)
        )
        return
    if run.exit_code not in (0, 1):  # killed (the OOM killer, a signal) or crashed: say so
        how = f"killed by signal {-run.exit_code}" if run.exit_code < 0 else f"exit {run.exit_code}"
        log.error(
            "crawl ended after %.1fs (%s): %s; the next crawl redoes what it did not store",
            took,
            how,
            summary,
        )
        return
    log.info("crawl finished in %.1fs (exit %s): %s", took, run.exit_code, summary)
    if _scheduler is None:  # called outside `run` (tests): send what is due here
        digest_job(config_path, None)
        return
    # Its own job, so that a mail server that hangs holds up mail, not the next crawls (the crawl
    # job runs one at a time). One of these at a time too: a second is skipped with a warning.
    try:
        _scheduler.add_job(
            digest_job,
            args=[config_path, None],
            id="digest:after-crawl",
            name="digest after crawl",
            replace_existing=True,
            next_run_time=datetime.now(UTC),
        )
    except StoreError as exc:  # the job store is in the database: the digests' own jobs still run
        log.error("digest after the crawl not scheduled: database error: %s", describe_error(exc))


def digest_job(config_path: str, email: str | None, signature: str = "") -> None:
    try:
        config = load_config(config_path)
    except ConfigError as exc:  # an edit in progress: the digest stays due, sent once it is fixed
        problems = "; ".join(str(p) for p in exc.problems)
        log.error("digest %s not sent: the config has errors: %s", email or "(all due)", problems)
        return
    try:
        with Store.open(config.storage) as store:
            for topic in apply_changed_topics(store, config.topics):  # edited since the last crawl
                log.info("%s", topic.describe())
            for r in send_due_digests(config, store, datetime.now(UTC), to=[email] if email else None):
                if r.status != "not-due":
                    log.info("digest %s: %s %s", r.recipient, r.status, r.detail)
    except StoreError as exc:  # the digest stays due: the next crawl or this job sends it
        log.error(
            "digest %s not sent: database error: %s; it stays due", email or "(all due)", describe_error(exc)
        )


def _signature(*parts: object) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:12]


def digest_trigger(recipient: Recipient) -> CronTrigger:
    return CronTrigger(hour=recipient.at.hour, minute=recipient.at.minute, timezone=recipient.timezone)


def describe_schedule(config: Config, now: datetime, due: AbstractSet[str] = frozenset()) -> list[str]:
    """The timetable in words; `due`: recipients whose digest a run now would send
    (`delivery.due_now`), so "next" is not tomorrow for them."""
    every = format_duration(config.crawl.every)
    lines = [f"crawl every {every} ({len(config.feeds)} feeds), first at start-up"]
    for r in config.recipients:
        nxt = digest_trigger(r).get_next_fire_time(None, now)
        now_too = "due now (today's has not gone out), then " if r.email in due else ""
        lines.append(
            f"digest to {r.email} daily at {r.at:%H:%M} {r.timezone} ({', '.join(r.topics)}); "
            f"next: {now_too}{nxt:%Y-%m-%d %H:%M %Z} = {nxt.astimezone(UTC):%H:%M} UTC"
        )
    return lines


def _sync_jobs(scheduler: BackgroundScheduler, config: Config, *, startup: bool = True) -> None:
    """Keep persisted jobs whose schedule is unchanged (so a missed run fires once); replace the
    rest. At start-up the crawl runs at once; on a config edit, changed jobs keep their rhythm."""
    path = str(config.path.resolve())
    wanted = {
        "crawl": (
            crawl_job,
            IntervalTrigger(seconds=config.crawl.every.total_seconds(), timezone=UTC),
            [path],
            _signature("crawl", path, config.crawl.every),
        )
    }
    for r in config.recipients:
        wanted[f"digest:{r.email}"] = (
            digest_job,
            digest_trigger(r),
            [path, r.email],
            _signature("digest", path, r.email, r.at, r.timezone),
        )
    existing = {job.id: job for job in scheduler.get_jobs()}
    for job_id, job in existing.items():
        if job_id not in wanted and job_id != "digest:after-crawl":
            log.info("removing job %s (no longer in the config)", job_id)
            job.remove()
    now = datetime.now(UTC)
    for job_id, (func, trigger, args, sig) in wanted.items():
        old = existing.get(job_id)
        if old is not None and old.kwargs.get("signature") == sig:
            if job_id == "crawl" and startup:
                old.modify(next_run_time=now)  # crawl at start-up
            continue
        if not startup:
            log.info("schedule of %s changed: %s", job_id, trigger)
        scheduler.add_job(
            func,
            trigger,
            args=args,
            kwargs={"signature": sig},
            id=job_id,
            name=job_id,
            replace_existing=True,
            next_run_time=now if job_id == "crawl" and startup else trigger.get_next_fire_time(None, now),
        )


class _ConfigWatch:
    """Notices edits of the config file, so that a new `crawl.every` or a recipient's new `at`
    takes effect without a restart (every job reads the file anew anyway; only the schedule
    was set once). A file that does not load is reported once per edit and the schedule kept."""

    def __init__(self, config: Config):
        self.path = config.path
        self.storage = config.storage  # the database `run` opened at start-up
        self.seen = self._stamp()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def changed(self) -> Config | None:
        stamp = self._stamp()
        if stamp == self.seen or stamp is None:
            return None
        self.seen = stamp
        try:
            config = load_config(str(self.path))
        except ConfigError as exc:
            problems = "; ".join(str(p) for p in exc.problems)
            log.error("config edited but not applied to the schedule: %s", problems)
            return None
        if config.storage != self.storage:
            log.warning("config edited: storage changes take effect when newsmon run is restarted")
        return config


def _job_store(store: Store) -> MongoDBJobStore:
    return MongoDBJobStore(database=store.db.name, collection=JOBS_COLLECTION, client=store.client)


def _revive(scheduler: BackgroundScheduler, store: Store, *, detached: bool = False) -> bool:
    """Restart the embedded database if it died. Without this, the scheduler's own client (its
    job store) pointed at a dead server for good: no job was due any more, so no crawl or digest
    ran to start a new one, and the log said only "Error getting due jobs" every few seconds.
    If its port was taken meanwhile, the job store moves to the client of the new port. Returns
    whether the job store is still detached (`detached`: it was, after a failed move)."""
    client = store.client
    if store.revive():
        log.warning("the embedded database had stopped; restarted it on 127.0.0.1:%d", store.server_port)
    if store.client is not client:
        scheduler.remove_jobstore("default", shutdown=False)
        detached = True
    if detached:
        try:
            scheduler.add_jobstore(_job_store(store), "default")
        except StoreError as exc:  # not answering yet: the next check (in 5 s) tries again
            log.error("the scheduler's jobs are not reachable yet: %s", describe_error(exc))
            return True
    return False


class _RunClaim:
    """One `newsmon run` per store. A second one (a systemd unit and a terminal) crawled every feed
    on a timetable of its own, so each site twice as often, and shared the job store, which
    APScheduler 3 does not support. Held in the database like the crawl's claim (`monitor.claims`):
    renewed every RUN_CLAIM_RENEW_S, taken over at once from a `run` of this host that is gone."""

    def __init__(self, store: Store):
        self.store = store
        self.owner = uuid.uuid4().hex
        self.renewed = 0.0
        self.failing = False  # a database error while renewing: said once

    def take(self) -> str:
        """ "" when claimed, else who holds it."""
        if claims.acquire(
            self.store, RUN_CLAIM, self.owner, RUN_CLAIM_TTL, "the newsmon run that claimed this store"
        ):
            self.renewed = time.monotonic()
            return ""
        held = self.store.claim_holder(RUN_CLAIM)
        return claims.holder(held) if held else "one that stopped just now"

    def keep(self) -> None:
        if time.monotonic() - self.renewed < RUN_CLAIM_RENEW_S:
            return
        try:
            if not self.store.renew_claim(RUN_CLAIM, self.owner, RUN_CLAIM_TTL):  # it ran out (a
                held = self.take()  # database down for minutes): ours again unless another took it
                if held:
                    log.error("another newsmon run took this store over (%s); stopping", held)
                    raise _Superseded
        except StoreError as exc:
            if not self.failing:
                log.warning("could not renew this run's claim on the store: %s", describe_error(exc))
            self.failing = True
            return
        self.failing = False
        self.renewed = time.monotonic()

    def give_back(self) -> None:
        try:
            self.store.release_claim(RUN_CLAIM, self.owner)
        except StoreError as exc:  # it runs out; a `run` of this host takes it over at once
            log.warning("could not give back this run's claim on the store: %s", describe_error(exc))


class _Superseded(Exception):
    """Another `run` holds the store now: this one stops."""


def run_scheduler(config: Config) -> int:
    """Run until SIGTERM or Ctrl-C; a running crawl is asked to stop and waited for."""
    stopping = threading.Event()
    with Store.open(config.storage) as store:
        claim = _RunClaim(store)
        held = claim.take()
        if held:
            log.error("run: not started: another newsmon run uses this store (%s)", held)
            return EXIT_TEMPFAIL
        try:
            return _run(config, store, stopping, claim)
        finally:
            claim.give_back()


def _run(config: Config, store: Store, stopping: threading.Event, claim: _RunClaim) -> int:
    """The scheduler's life, from its first job to its stop, with the store claimed."""
    scheduler = BackgroundScheduler(
        jobstores={"default": _job_store(store)},
        executors={"default": ThreadPoolExecutor(4)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone=UTC,
    )

    def stop(signum: int, _frame: object) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _launcher.warm_up()
    scheduler.start(paused=True)
    _sync_jobs(scheduler, config)
    now = datetime.now(UTC)
    for line in describe_schedule(config, now, due_now(config, store, now)):
        log.info("%s", line)
    scheduler.resume()
    global _scheduler
    _scheduler = scheduler
    edits = _ConfigWatch(config)
    detached = False  # the job store, between a failed move to a new port and the next check
    superseded = False
    while not stopping.wait(REVIVE_CHECK_S):
        try:
            claim.keep()
        except _Superseded:
            superseded = True
            break
        detached = _revive(scheduler, store, detached=detached)
        edited = edits.changed() if not detached else None
        if edited is not None:
            try:
                _sync_jobs(scheduler, edited, startup=False)
            except StoreError as exc:  # the jobs live in the database: try again at the next check
                log.error("config edited, schedule not updated yet: database error: %s", describe_error(exc))
                edits.seen = None
    _scheduler = None
    scheduler.pause()
    _launcher.stop()  # Scrapy finishes in-flight work and stops on SIGTERM
    # Detached first: after `shutdown` closes the job stores, APScheduler's loop looks for due
    # jobs once more, and a WARNING "Cannot use MongoClient after close" ended every stop.
    if not detached:
        scheduler.remove_jobstore("default", shutdown=False)
    scheduler.shutdown(wait=True)
    log.info("stopped")
    return EXIT_TEMPFAIL if superseded else 0
