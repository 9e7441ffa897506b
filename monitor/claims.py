"""Claims: the right, held in the database, to do what only one process may do at a time (send a
recipient's digest, crawl the store). A claim names its holder (host, pid, the pid's start time)
and holds until a time: one whose holder is a process of this host that is gone (killed, crashed,
or stopped while the database was down, so that it could not give its claim back) is taken over
at once; one held from another host is waited out until it runs out."""

from __future__ import annotations

import logging
import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.store import Claim, ClaimSpot, Holder, Store

log = logging.getLogger(__name__)


def this_process() -> Holder:
    """Who claims: host, pid and the pid's start time (so that a reused pid is not taken for us)."""
    return Holder(socket.gethostname(), os.getpid(), _pid_start(os.getpid()))


def _pid_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat); "" if gone
    or where there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


def gone(claim: Claim) -> bool:
    """Whether the claim's holder is a process of this host that no longer runs (or whose pid now
    belongs to another process). A holder on another host is never judged: its claim runs out."""
    if claim.host != socket.gethostname() or claim.pid <= 0:
        return False
    try:
        os.kill(claim.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's process: our pid reused
        return True
    started = _pid_start(claim.pid)
    return bool(claim.pid_start and started and started != claim.pid_start)


def acquire(store: Store, spot: ClaimSpot, owner: str, ttl: timedelta, what: str) -> bool:
    """Claim `spot` for `ttl` as `owner`; take over at once a claim whose holder is gone, saying
    so in a warning that begins with `what` (who held it: "the newsmon that claimed …")."""
    me = this_process()
    if store.claim(spot, owner, ttl, me):
        return True
    held = store.claim_holder(spot)
    if held is None or not gone(held):
        return False
    log.warning("%s (pid %d on %s) is gone; taking over its claim", what, held.pid, held.host)
    return store.claim(spot, owner, ttl, me, gone=held.owner)


def holder(claim: Claim) -> str:
    """Who holds a claim and since when, for a message: "pid 1234 on host, since 10:42:07 UTC"."""
    since = ""
    if claim.since is not None:
        shown = "%H:%M:%S" if claim.since.date() == datetime.now(UTC).date() else "%Y-%m-%d %H:%M:%S"
        since = f", since {claim.since.strftime(shown)} UTC"
    return f"pid {claim.pid} on {claim.host}{since}"
