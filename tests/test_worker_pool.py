"""A worker process that dies (OOM killer, a crash in a C extension) costs the crawl only the task
that killed it: the pool starts new workers and runs the other tasks it took down again."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from monitor.crawl.forkserver import context, worker_count
from monitor.crawl.pool import RecoveringPool, WorkerDied

TIMEOUT = 60


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would


def die_once(flag: str) -> str:
    """Dies the first time (leaving `flag` behind), succeeds when run again."""
    if not Path(flag).exists():
        Path(flag).touch()
        die()
    return "second run"


def slow_square(x: int) -> int:
    time.sleep(0.2)
    return x * x


@pytest.fixture
def pool():
    pool = RecoveringPool(lambda: ProcessPoolExecutor(2, mp_context=context()))
    yield pool
    pool.shutdown(wait=True)


def test_a_task_that_kills_its_worker_every_time_fails_clearly_and_the_pool_goes_on(pool):
    with pytest.raises(WorkerDied, match="died running die, on each of 2 tries"):
        pool.submit(die).result(TIMEOUT)
    assert pool.restarts == 2
    assert pool.submit(pow, 2, 10).result(TIMEOUT) == 1024


def test_tasks_taken_down_with_a_dying_worker_are_run_again(pool, tmp_path):
    innocent = [pool.submit(slow_square, x) for x in range(6)]
    flaky = pool.submit(die_once, str(tmp_path / "died"))
    assert flaky.result(TIMEOUT) == "second run"
    assert [f.result(TIMEOUT) for f in innocent] == [x * x for x in range(6)]
    assert pool.restarts == 1


def test_a_task_that_raises_is_not_run_again(pool):
    with pytest.raises(ZeroDivisionError):
        pool.submit(divmod, 1, 0).result(TIMEOUT)
    assert pool.restarts == 0


def test_no_new_workers_after_shutdown(tmp_path):
    pool = RecoveringPool(lambda: ProcessPoolExecutor(1, mp_context=context()))
    pool.submit(pow, 2, 2).result(TIMEOUT)
    pool.shutdown(wait=True)
    with pytest.raises(RuntimeError):
        pool.submit(pow, 2, 3).result(TIMEOUT)
    assert pool.restarts == 0


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ("2", 2),
        ("0", 0),
        (" 3 ", 3),
        ("", None),
        ("two", None),
        ("-1", None),
        ("300", None),
        ("9" * 5000, None),  # more digits than int() parses
    ],
)
def test_monitor_workers_typo_falls_back_to_one_per_core(monkeypatch, caplog, env, expected):
    monkeypatch.setenv("MONITOR_WORKERS", env)
    assert worker_count() == (os.cpu_count() or 1 if expected is None else expected)
    warned = "using one per core" in caplog.text
    assert warned == (expected is None and env != "")


def test_a_monitor_workers_typo_is_warned_about_once(monkeypatch, caplog):
    monkeypatch.setenv("MONITOR_WORKERS", "three")  # a value no other test uses
    assert worker_count() == worker_count() == (os.cpu_count() or 1)
    assert caplog.text.count("MONITOR_WORKERS='three'") == 1
