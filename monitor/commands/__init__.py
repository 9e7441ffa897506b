"""Sub-commands of `newsmon` that live in their own modules.

Each module exposes `register(subparsers) -> None`, which adds its parser and sets
`func=<callable(args) -> int>` as the handler. `monitor.cli` wires them in.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime


def since_cutoff(text: str | None) -> datetime | None:
    """The time `--since DURATION` reaches back to; None for no limit (none given, or a period
    longer than the calendar). ValueError for what is not a duration."""
    if not text:
        return None
    from monitor.config import parse_duration

    period = parse_duration(text)
    try:
        return datetime.now(UTC) - period
    except OverflowError:  # before year 1: everything
        return None


def count(text: str) -> int:
    """argparse type for --limit and the like: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value
