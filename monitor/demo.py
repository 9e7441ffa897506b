"""`make demo`: serve the bundled sample site on 127.0.0.1, crawl it, write the digest to the outbox.

Runs the real commands (`newsmon crawl`, `newsmon digest --now`) as subprocesses against a
fresh data folder, so what it shows is exactly what a user's first run does.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from monitor.sample_site.server import SiteServer

DEMO_DIR = Path("var/demo")

CONFIG = """\
# Written by `make demo`; the sample site's port changes on every run.
storage:
  mongodb_uri: embedded
  data_dir: data
crawl:
  every: 30m
  user_agent: "newsmon-demo/0.1 (+https://example.org/newsmon)"
feeds:
  - url: {origin}/feeds/world.xml
    name: sample-world
  - url: {origin}/feeds/sport.atom
    name: sample-sport
  - url: {origin}/feeds/ua.rdf
    name: sample-ua
topics:
  ceasefire:
    keywords: ["ceasefire talks", "cease-fire negotiations", truce, "перемир'я",
               "переговори про припинення вогню"]
  kursk:
    query: 'Kursk (offensive OR advance) -baseball'
recipients:
  - email: demo@example.org
    topics: [ceasefire, kursk]
    at: "07:00"
    timezone: Europe/Kyiv
mail:
  from: "newsmon demo <newsmon@example.org>"
"""


def newsmon(config: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), *args], capture_output=True, text=True
    )
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"newsmon {' '.join(args)} exited with {done.returncode}")
    return done.stdout


def main() -> int:
    started = time.monotonic()
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir(parents=True)
    config = DEMO_DIR / "monitor.yaml"
    with SiteServer() as site:
        config.write_text(CONFIG.format(origin=site.origin), encoding="utf-8")
        print(f"sample news site on {site.origin} (3 feeds, 7 articles); config {config}")
        newsmon(config, "crawl")
        newsmon(config, "digest", "--now")
    outbox = DEMO_DIR / "data" / "outbox"
    mails = sorted(outbox.glob("*.eml"))
    for path in mails:
        print(f"digest written: {path}  (open {path.parent / (path.stem + '.html')} in a browser)")
    print(f"demo finished in {time.monotonic() - started:.1f}s: {len(mails)} mail(s) in {outbox}/")
    return 0 if mails else 1


if __name__ == "__main__":
    sys.exit(main())
