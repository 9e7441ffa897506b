"""bench/extraction.py: the held-out split is stable and the script exits cleanly without shared/."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_extraction", REPO / "bench" / "extraction.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_held_out_split_is_fixed_and_about_thirty_percent() -> None:
    bench = _bench()
    ids = [f"{i:064x}" for i in range(1000)]
    held = [i for i in ids if bench.is_held_out(i)]
    assert 250 <= len(held) <= 350
    assert held == [i for i in ids if bench.is_held_out(i)]


def test_exits_cleanly_without_shared_folder(tmp_path: Path) -> None:
    env = {"NEWSMON_SHARED": str(tmp_path / "nowhere"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "extraction.py")], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0
    assert "skipped" in proc.stderr and "NEWSMON_SHARED" in proc.stderr
    assert "Traceback" not in proc.stderr
