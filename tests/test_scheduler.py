"""`newsmon run`: crawls on its interval, sends a due digest once, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import REPO, write_config
from test_end_to_end import config_text

pytestmark = pytest.mark.slow


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_run_crawls_sends_due_digest_and_stops_on_sigterm(tmp_path, site, smtp, mongo_uri):
    box, port = smtp
    text = config_text(mongo_uri, tmp_path / "var", [("world", site.url("/feeds/world.xml"))], port)
    due = (datetime.now(UTC) - timedelta(minutes=2)).strftime("%H:%M")  # today's digest time has passed
    text = text.replace("every: 30m", "every: 2s").replace('at: "07:00"', f'at: "{due}"')
    text = text.replace("timezone: Europe/Kyiv", "timezone: UTC")
    config = write_config(tmp_path / "monitor.yaml", text)
    log = open(tmp_path / "run.log", "w")  # noqa: SIM115 - a file, not a pipe: a full pipe would stall it
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "-v", "run"],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "MONITOR_WORKERS": "1"},
    )
    try:
        assert wait_for(lambda: len(box.messages) == 1, 120), "no digest was sent"
        assert wait_for(lambda: len(site.hits("/feeds/world.xml")) >= 2, 60), "no second crawl"
        time.sleep(1)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    err = (tmp_path / "run.log").read_text()
    assert proc.returncode == 0, err
    assert "stopped" in err
    assert len(box.messages) == 1  # the due digest went out once, not once per crawl
