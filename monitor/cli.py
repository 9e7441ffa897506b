"""`newsmon` command line. `main(argv)` is separate from parsing so tests can call it."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from monitor import commands
from monitor.config import Config, ConfigError, find_config, load_config, mask_password, parse_email
from monitor.embedded import EmbeddedServer, EmbeddedServerError
from monitor.terminal import printable

if TYPE_CHECKING:
    from collections.abc import Iterator

    from monitor.store import Store

log = logging.getLogger("newsmon")

EXAMPLE_CONFIG = Path(__file__).resolve().parent / "example.yaml"
EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
EXIT_TEMPFAIL = 75  # sysexits' EX_TEMPFAIL, "try again later": another crawl holds the store
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM, as shells report a SIGINT
CRAWL_NOT_STARTED = "crawl: not started: "  # then who holds the store, the one line printed


def _config(args: argparse.Namespace) -> Config:
    return load_config(args.config)


class DatabaseFailure(Exception):
    """A database error as one line that says which database (pymongo's own text does not)."""


def _database_name(config: Config) -> str:
    if config.storage.embedded:
        return f"the embedded database in {config.storage.data_dir / 'db'}"
    return mask_password(config.storage.mongodb_uri)


@contextlib.contextmanager
def _open_store(config: Config) -> Iterator[Store]:
    with contextlib.ExitStack() as stack:
        started = None
        if config.storage.embedded:  # the server starts while the driver is imported
            started = stack.enter_context(EmbeddedServer(config.storage.data_dir).starting())
        from monitor.store import Store, StoreError, describe_error  # lazy: `init` needs no driver

        if started is not None:
            started.result()  # a server that failed to start: its error, once
        try:
            yield stack.enter_context(Store.open(config.storage))
        except StoreError as exc:
            raise DatabaseFailure(f"{_database_name(config)}: {describe_error(exc)}") from exc


# ---------------------------------------------------------------- commands


def cmd_init(args: argparse.Namespace) -> int:
    path = find_config(args.config)
    if path.exists() and not args.force:
        print(f"{path} exists; use --force to overwrite it", file=sys.stderr)
        return EXIT_FAILED
    # written beside it and renamed over it: a write that fails leaves the old file whole (a
    # symlink's target is what gets replaced, with the mode it had)
    target = path.resolve() if path.is_symlink() else path
    partial = target.with_name(f".{target.name}.new")
    try:
        partial.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
        if target.exists():
            partial.chmod(target.stat().st_mode & 0o7777)
        partial.replace(target)
    except OSError as exc:
        if partial.is_file() and not partial.is_symlink():  # our own half-written copy
            partial.unlink()
        print(f"newsmon init: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    print(
        f"wrote {path}: edit the feeds, topics and recipients, then run `newsmon check` "
        "(digests go to files in the outbox until you set mail.smtp)"
    )
    return EXIT_OK


def cmd_crawl(args: argparse.Namespace) -> int:
    config = _config(args)
    unknown = [n for n in args.feed or () if n not in {f.name for f in config.feeds}]
    if unknown:
        names = ", ".join(f.name for f in config.feeds)
        print(f"{config.path}: no feed named {', '.join(unknown)} (feeds: {names})", file=sys.stderr)
        return EXIT_CONFIG
    with _open_store(config) as store:
        names = args.feed or [f.name for f in config.feeds]
        if set(names) - set(store.feed_states(names)):
            # a feed never fetched: its first fetch will surely have entries to parse, so the
            # workers' fork server starts now and imports while this process imports Scrapy
            from monitor.crawl.forkserver import start_fork_server

            start_fork_server()
        from monitor.backfill import apply_changed_topics

        applied = apply_changed_topics(store, config.topics)  # before any request: topics new or edited
        from monitor.crawl.runner import run_crawl

        summary = run_crawl(config, store, args.feed, log_level="INFO" if args.verbose else "WARNING")
    if summary.not_started:
        print(f"{CRAWL_NOT_STARTED}{summary.not_started}")
        return EXIT_TEMPFAIL
    polled = summary.feeds_fetched + summary.feeds_not_modified
    print(
        f"feeds: {polled} fetched ({summary.feeds_not_modified} not modified), "
        f"{summary.feeds_failed} failed; "
        f"new articles: {summary.new_articles}; new matches: {summary.new_matches}"
    )
    for topic in applied:
        if topic.articles:
            print(f"  {topic.describe()}")
    if summary.articles_feed_text:
        print(
            "  articles kept with the feed's text, their page not fetched (404, robots.txt, too large;"
            f" -v names each): {summary.articles_feed_text}"
        )
    if summary.articles_retry_later:
        print(f"  articles whose page failed for now, asked again next crawl: {summary.articles_retry_later}")
    if summary.articles_not_stored:
        print(
            f"  articles not stored (a database error; the next crawl fetches them again):"
            f" {summary.articles_not_stored}"
        )
    for name, error in summary.failures:
        print(f"  failed: {name}: {printable(error)}")
    if summary.database_lost:
        print(
            f"  stopped: the database could not be reached ({summary.database_lost});"
            " the next crawl fetches again what this one did not store"
        )
        return EXIT_FAILED
    if summary.interrupted:
        print("  interrupted: what was not stored is fetched again by the next crawl")
        return EXIT_INTERRUPTED
    failed = (summary.feeds_failed and not polled) or summary.articles_not_stored
    return EXIT_FAILED if failed else EXIT_OK


def cmd_digest(args: argparse.Namespace) -> int:
    config = _config(args)
    from monitor.delivery import send_due_digests

    known = {r.email.lower(): r.email for r in config.recipients}  # as the config checks them
    wanted, unknown = [], []
    for given in args.to or ():
        try:
            email = known.get(parse_email(given).lower())
        except ValueError:
            email = None
        if email:
            wanted.append(email)
        else:
            unknown.append(given)
    if unknown:
        listed = ", ".join(sorted(known.values())) or "none"
        print(f"{config.path}: no recipient {', '.join(unknown)} (recipients: {listed})", file=sys.stderr)
        return EXIT_CONFIG
    args.to = wanted or None
    with _open_store(config) as store:
        from monitor.backfill import apply_changed_topics

        applied = apply_changed_topics(store, config.topics)  # a topic added since the last crawl: its items
        results = send_due_digests(
            config, store, datetime.now(UTC), to=args.to, force=args.now, dry_run=args.dry_run
        )
    for topic in applied:
        if topic.articles:
            print(topic.describe())
    for r in results:
        detail = f" ({r.items} items) {r.detail}" if r.items else (f" ({r.detail})" if r.detail else "")
        print(f"{r.recipient}: {r.status}{printable(detail)}")
    return EXIT_FAILED if any(r.status == "failed" for r in results) else EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    config = _config(args)
    from monitor.scheduler import log, run_scheduler

    # a service's log: each crawl's summary and each digest sent, without -v too (-v adds the
    # APScheduler's own lines about every job it adds, runs and removes)
    log.setLevel(logging.INFO)
    return run_scheduler(config)


def cmd_check(args: argparse.Namespace) -> int:
    config = _config(args)
    from monitor.delivery import due_now
    from monitor.mail import check_smtp
    from monitor.scheduler import describe_schedule

    print(
        f"config {config.path}: ok ({len(config.feeds)} feeds, {len(config.topics)} topics, "
        f"{len(config.recipients)} recipients)"
    )
    ok = True
    now = datetime.now(UTC)
    due: set[str] = set()
    try:
        with _open_store(config) as store:
            store.ping()
            where = "embedded" if config.storage.embedded else "MongoDB"
            print(f"database ({where}): ok, {store.counts()['articles']} articles stored")
            due = due_now(config, store, now)
    except Exception as exc:  # any failure to reach the database is reported, not raised
        print(f"database: FAILED: {exc}")
        ok = False
    smtp_ok, smtp = check_smtp(config.mail)
    print(f"mail: {printable(smtp)}" if smtp_ok else f"mail: FAILED: {printable(smtp)}")
    ok = ok and smtp_ok
    print("schedule:")
    for line in describe_schedule(config, now, due):
        print(f"  {line}")
    return EXIT_OK if ok else EXIT_FAILED


def cmd_export(args: argparse.Namespace) -> int:
    config = _config(args)
    try:
        since = commands.since_cutoff(args.since)
    except ValueError as exc:
        print(f"newsmon export: --since: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.topic and args.topic not in config.topics:
        known = ", ".join(sorted(config.topics)) or "none"
        print(
            f"newsmon export: --topic: no topic {args.topic!r} in the config (topics: {known})",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    out = sys.stdout
    count = 0
    with _open_store(config) as store:
        batch = []

        def flush() -> None:
            topics = store.article_topics([a.url for a in batch])
            for a in batch:
                record = {
                    "url": a.url,
                    "title": a.title,
                    "text": a.text,
                    "published": a.published.isoformat() if a.published else None,
                    "feed": a.feed,
                    "topics": sorted(topics.get(a.url, [])),
                }
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            batch.clear()

        for article in store.iter_articles(since, topic=args.topic):
            batch.append(article)
            count += 1
            if len(batch) >= 200:
                flush()
        flush()
    print(f"{count} articles", file=sys.stderr)
    return EXIT_OK


def cmd_feeds(args: argparse.Namespace) -> int:
    config = _config(args)
    with _open_store(config) as store:
        states = store.feed_states([f.name for f in config.feeds])
        counts = store.count_articles_by_feed()
    rows = [("feed", "last fetch (UTC)", "last ok (UTC)", "status", "fails", "avg new", "articles", "error")]
    for feed in config.feeds:
        s = states.get(feed.name)
        shown_error = s.last_error if s and (s.consecutive_failures or s.last_status == "partial") else ""
        rows.append(
            (
                feed.name,
                s.last_fetch.strftime("%Y-%m-%d %H:%M") if s and s.last_fetch else "never",
                s.last_success.strftime("%Y-%m-%d %H:%M") if s and s.last_success else "never",
                s.last_status if s else "-",
                str(s.consecutive_failures) if s else "0",
                f"{s.average_new_items:.1f}" if s else "-",
                str(counts.get(feed.name, 0)),
                printable(shown_error)[:60],
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return EXIT_OK


# ---------------------------------------------------------------- parser


CONFIG_HELP = "config file (default: $MONITOR_CONFIG, else ./monitor.yaml)"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("newsmon")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsmon", description="Watch news feeds for topics; mail digests.")
    parser.add_argument("--config", "-c", help=CONFIG_HELP)
    parser.add_argument("--verbose", "-v", action="store_true", help="log more")
    parser.add_argument("--version", action="version", version=f"newsmon {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("init", help="write a commented example config")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("crawl", help="crawl the feeds now and print a summary")
    p.add_argument("--feed", action="append", metavar="NAME", help="only this feed (repeatable)")
    p.set_defaults(func=cmd_crawl)

    p = sub.add_parser("digest", help="send the digests that are due")
    p.add_argument("--to", action="append", metavar="EMAIL", help="only this recipient (repeatable)")
    p.add_argument(
        "--now", action="store_true", help="send every recipient's unsent items regardless of the hour"
    )
    p.add_argument("--dry-run", action="store_true", help="render to the outbox without recording anything")
    p.set_defaults(func=cmd_digest)

    p = sub.add_parser("run", help="run the scheduler: crawl every crawl.every, each digest at its time")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("check", help="validate the config, reach the database and SMTP, print the schedule")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("export", help="clean articles as JSON Lines")
    p.add_argument("--since", metavar="DURATION", help="only articles stored in this period, e.g. 7d")
    p.add_argument("--topic", metavar="NAME", help="only articles that matched this topic")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("feeds", help="each feed's last fetch, status, error and article count")
    p.set_defaults(func=cmd_feeds)

    for name in ("topics", "extract"):
        module = __import__(f"{commands.__name__}.{name}", fromlist=["register"])
        module.register(sub)
    _global_options_after_the_command(parser)
    return parser


def _global_options_after_the_command(parser: argparse.ArgumentParser) -> None:
    """`newsmon check --config x.yaml` and `newsmon crawl -v` work as `newsmon -c x.yaml check`
    does (argparse took them for unknown arguments). Added to every command's parser, without a
    default, so that one given before the command stands when none is given after it; each
    command's own description is its help line (`newsmon run --help` showed only its usage)."""
    for action in parser._actions:  # argparse keeps sub-commands only there
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {a.dest: a.help for a in action._choices_actions}
        for name, command in action.choices.items():
            command.add_argument("--config", "-c", default=argparse.SUPPRESS, help=CONFIG_HELP)
            command.add_argument(
                "--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help="log more"
            )
            if command.description is None:
                command.description = helps.get(name)
            _global_options_after_the_command(command)


def entry() -> None:
    """The `newsmon` program: `main`, then exit without the interpreter's teardown.

    By then every store, worker and server is closed; what is left is freeing the objects of
    Scrapy, Twisted and pymongo one by one (~0.3 s of CPU: a tenth of a quiet re-crawl)."""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def unwind_on_sigterm() -> None:
    """`timeout`, cron and systemd stop a command with SIGTERM (and `run` its crawls): unwind as
    for Ctrl-C, so that a digest's claim on its recipient and the embedded database's lease are
    released (`run` and a crawl's reactor put in handlers of their own)."""
    signal.signal(signal.SIGTERM, _interrupt)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    args.open_store = lambda: _open_store(_config(args))
    unwind_on_sigterm()
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_CONFIG
    except BrokenPipeError:  # `newsmon export | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 1
    except Exception as exc:  # only the database's errors are turned into a message; others propagate
        from monitor.store import StoreError

        if not isinstance(exc, StoreError | EmbeddedServerError | DatabaseFailure):
            raise
        print(f"newsmon: database error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
