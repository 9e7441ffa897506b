"""The pure core imports nothing of Scrapy, Twisted, pymongo or the network."""

import subprocess
import sys

CORE = [
    "monitor.models",
    "monitor.config",
    "monitor.feeds",
    "monitor.extraction",
    "monitor.topics",
    "monitor.digest",
    "monitor.urls",
    "monitor.ingest",
]


def test_core_does_not_load_the_crawl_or_storage_stack():
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in CORE)
        + "stack = ('scrapy', 'twisted', 'pymongo', 'smtplib')\n"
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in stack)\n"
        + "print(','.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
