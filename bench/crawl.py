"""Measure newsmon's crawl against a naive sequential crawler on a local, deterministic news web.

    python bench/crawl.py                       # 8 sites x 5 feeds x 25 items, 100 ms per response
    python bench/crawl.py --quick               # tiny run, for debugging the bench itself
    python bench/crawl.py --articles-scan       # newsmon only: 1,000 vs 5,000 articles, peak RSS growth

Why this shape: newsmon's claim is that it crawls many slow sites concurrently, spends little CPU beyond
the extraction it must do, and that a re-crawl of unchanged feeds is nearly free (conditional GETs, no
article refetch). So one run measures, on the same sites:

1. ``newsmon crawl`` on an empty store: wall, CPU of the whole process tree (the embedded database
   server included - it is a separate process newsmon starts in its own session), peak tree RSS, articles;
2. ``bench/naive_crawler.py`` (urllib + feedparser + trafilatura, one request at a time): the baseline;
3. the extraction floor: ``trafilatura.extract`` alone on the same pages, in a process pool;
4. ``newsmon crawl`` again with nothing new: requests and 304s from each site's ``/stats.json``, CPU;
5. ``newsmon run`` (``crawl.every`` of a few seconds) on that store: CPU per quiet scheduled crawl of
   its whole tree (scheduler, the fork server its crawls start from, crawl processes, database),
   from the end of its start-up crawl to the end of ``--scheduled`` more. That is the re-crawl a
   monitor makes every half hour, forever; 4. is a one-off from the shell, which pays Python's and
   Scrapy's imports each time.

newsmon's runs (1 and 4) are made ``--repeat`` times (3 by default; each first crawl on an empty store
of its own) and the run of median wall time is reported, with every run's figures beside it: on this
2-core VM single runs of the same code differ by 10-25%.

newsmon's own modules are byte-compiled first, as installing the package would (the development
machines set PYTHONDONTWRITEBYTECODE, which would make every newsmon process compile its sources).
The sites are ``shared/bench/newsweb.py`` run as a tool (one process per loopback address
127.0.0.2, 127.0.0.3, ...); newsmon is used only through its CLI. Everything stays on loopback and every
server this script starts is stopped in ``finally``. The shared folder is the repository's sibling
``shared/`` unless ``$NEWSMON_SHARED`` names another.
"""

from __future__ import annotations

import argparse
import compileall
import concurrent.futures as cf
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
NAIVE = Path(__file__).resolve().with_name("naive_crawler.py")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_S = 0.1  # /proc poll period: CPU a process burns in its last period before exit is missed
SITE_START_TIMEOUT_S = 20.0
CRAWL_TIMEOUT_S = 1800.0
FETCH_TIMEOUT_S = 30.0
MAX_SITES = 200  # 127.0.0.2 .. 127.0.0.201 stay inside 127.0.0.0/24
TOPICS_YAML = """topics:
  ceasefire:
    keywords: ["ceasefire talks", "cease-fire negotiations", truce, "перемир'я", "перемирие"]
"""


def shared_dir() -> Path:
    """Where newsweb.py lives: the repo's sibling ``shared/`` or ``$NEWSMON_SHARED``."""
    env = os.environ.get("NEWSMON_SHARED")
    return Path(env) if env else REPO.parent / "shared"


# ---------------------------------------------------------------- the local news web


@dataclass
class Site:
    """One newsweb.py process serving one loopback address."""

    host: str
    port: int
    proc: subprocess.Popen

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"


def free_port(host: str) -> int:
    """A port the kernel says is free on ``host`` (a tiny race with other users is acceptable here)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def listening(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def start_sites(
    newsweb: Path, n_sites: int, feeds: int, items: int, slow_ms: int, seed: int, logs: Path
) -> list[Site]:
    """Start one newsweb per site; each gets its own seed so the sites carry different articles."""
    sites: list[Site] = []
    try:
        for i in range(n_sites):
            host = f"127.0.0.{2 + i}"
            port = free_port(host)
            cmd = [PYTHON, str(newsweb), "--host", host, "--port", str(port), "--synthetic", str(feeds)]
            cmd += ["--items", str(items), "--slow-ms", str(slow_ms), "--seed", str(seed + i), "--quiet"]
            with open(logs / f"newsweb-{host}.log", "wb") as log:
                proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            sites.append(Site(host, port, proc))
        deadline = time.monotonic() + SITE_START_TIMEOUT_S
        for site in sites:
            while not listening(site.host, site.port):
                if site.proc.poll() is not None:
                    raise RuntimeError(
                        f"newsweb on {site.host} exited with {site.proc.returncode}; see {logs}"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"newsweb on {site.host} did not listen within {SITE_START_TIMEOUT_S}s"
                    )
                time.sleep(0.05)
    except BaseException:
        stop_sites(sites)
        raise
    return sites


def stop_sites(sites: list[Site]) -> None:
    """Terminate, then kill, every newsweb this script started (only those, by pid)."""
    for site in sites:
        if site.proc.poll() is None:
            site.proc.terminate()
    for site in sites:
        try:
            site.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            site.proc.kill()
            site.proc.wait(timeout=5)


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as resp:
        return json.loads(resp.read())


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as resp:
        return resp.read()


# ---------------------------------------------------------------- measuring a process tree


def _proc_stat(pid: int) -> tuple[int, int, int, int, int] | None:
    """(ppid, starttime, cpu ticks, rss bytes, cpu ticks of the children it waited for) from
    /proc/<pid>/stat; None if the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    f = raw[raw.rindex(b")") + 2 :].split()  # after "pid (comm) ": f[0] is field 3 (state)
    return int(f[1]), int(f[19]), int(f[11]) + int(f[12]), int(f[21]) * PAGE_SIZE, int(f[13]) + int(f[14])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class TreeSampler(threading.Thread):
    """Poll /proc for a process and all its descendants: last-seen CPU per process, peak summed RSS.

    Needed because newsmon's embedded database server runs in its own session and is stopped, not
    necessarily waited for, so ``RUSAGE_CHILDREN`` may never see its CPU. Processes are keyed by
    (pid, starttime) so a reused pid is not mistaken for an earlier process.
    """

    def __init__(self, root: int):
        super().__init__(daemon=True)
        self.root = root
        self.cpu_ticks: dict[tuple[int, int], int] = {}
        self.reaped_ticks: dict[tuple[int, int], int] = {}  # CPU of the children each one waited for
        self.parent: dict[tuple[int, int], int] = {}
        self.peak_rss = 0
        self.done = threading.Event()
        self.lock = threading.Lock()

    def sample(self) -> None:
        with self.lock:
            self._sample()

    def _sample(self) -> None:
        stats: dict[int, tuple[int, int, int, int, int]] = {}
        for name in os.listdir("/proc"):
            if name.isdigit() and (st := _proc_stat(int(name))) is not None:
                stats[int(name)] = st
        children: dict[int, list[int]] = {}
        for pid, st in stats.items():
            children.setdefault(st[0], []).append(pid)
        tree, todo = [], [self.root] if self.root in stats else []
        while todo:  # bounded: each pid is visited once, the parent graph of a /proc snapshot is a tree
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, ()))
        rss = 0
        for pid in tree:
            ppid, start, ticks, pid_rss, reaped = stats[pid]
            self.cpu_ticks[(pid, start)] = max(ticks, self.cpu_ticks.get((pid, start), 0))
            self.reaped_ticks[(pid, start)] = max(reaped, self.reaped_ticks.get((pid, start), 0))
            self.parent[(pid, start)] = ppid
            rss += pid_rss
        self.peak_rss = max(self.peak_rss, rss)

    def run(self) -> None:
        while not self.done.is_set():
            self.sample()
            self.done.wait(SAMPLE_S)

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=5)

    def cpu_s(self, root_only: bool = False) -> float:
        return sum(t for (pid, _), t in self.cpu_ticks.items() if not root_only or pid == self.root) / CLK_TCK

    def snapshot(self) -> TreeSnapshot:
        """Sample now and keep a copy: CPU between two snapshots is `TreeSnapshot.cpu_since`."""
        with self.lock:
            self._sample()
            return TreeSnapshot(dict(self.cpu_ticks), dict(self.reaped_ticks), dict(self.parent))


@dataclass
class TreeSnapshot:
    cpu_ticks: dict[tuple[int, int], int]
    reaped_ticks: dict[tuple[int, int], int]
    parent: dict[tuple[int, int], int]

    def cpu_since(self, earlier: TreeSnapshot, reapers: set[int]) -> float:
        """CPU seconds the tree spent between `earlier` and this snapshot.

        Processes alive at both are exact. A short-lived process may burn CPU after its last poll,
        so the children of a `reapers` process (one that waits for its children: the scheduler's
        fork server) are counted through that process's reaped-children CPU instead, which the
        kernel adds exactly when it waits; that includes what they waited for in turn: a crawl
        process waits for the workers it forked, so those are left out of the per-process sum
        too. (A process a crawl leaves behind instead, which a quiet crawl never does, would be
        missed.)
        """
        crawls = {pid for (pid, _), ppid in self.parent.items() if ppid in reapers}
        ticks = 0
        for key, t in self.cpu_ticks.items():
            if self.parent[key] not in reapers and self.parent[key] not in crawls:
                ticks += t - earlier.cpu_ticks.get(key, 0)
        for key, t in self.reaped_ticks.items():
            if key[0] in reapers:
                ticks += t - earlier.reaped_ticks.get(key, 0)
        return ticks / CLK_TCK


@dataclass
class Measured:
    """One subprocess run: wall, CPU (tree), peak RSS (tree), output."""

    wall_s: float
    cpu_s: float
    peak_rss: int
    rc: int
    stdout: str
    stderr: str
    cpu_children_s: float = 0.0  # CPU of descendants (for newsmon: mostly the embedded database)


def children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_measured(cmd: list[str], timeout: float = CRAWL_TIMEOUT_S) -> Measured:
    """Run ``cmd`` to completion, sampling its process tree.

    CPU is the larger of two lower bounds: the rusage of waited children (exact for the process and
    whatever it reaped) and the /proc poll (sees every descendant, misses at most one poll period each).
    """
    before = children_cpu_s()
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    sampler = TreeSampler(proc.pid)
    sampler.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=10)
        err += f"\n[bench] killed after {timeout:.0f}s"
    wall = time.perf_counter() - start
    sampler.stop()
    rusage_cpu = children_cpu_s() - before
    tree_cpu = sampler.cpu_s()
    return Measured(
        wall_s=wall,
        cpu_s=max(rusage_cpu, tree_cpu),
        peak_rss=sampler.peak_rss,
        rc=proc.returncode,
        stdout=out,
        stderr=err,
        cpu_children_s=tree_cpu - sampler.cpu_s(root_only=True),
    )


# ---------------------------------------------------------------- the four measurements


def feed_urls(sites: list[Site], feeds: int) -> list[tuple[str, str]]:
    """(name, url) of every feed, site by site."""
    return [
        (f"s{s.host.rsplit('.', 1)[1]}-f{i}", f"{s.origin}/synthetic/feed-{i}.xml")
        for s in sites
        for i in range(feeds)
    ]


def write_config(tmp: Path, feeds: list[tuple[str, str]]) -> Path:
    """newsmon config with an embedded store under ``tmp``; JSON strings are valid YAML scalars."""
    lines = [
        "storage:",
        "  mongodb_uri: embedded",
        f"  data_dir: {json.dumps(str(tmp / 'var'))}",
        "crawl:",
        "  every: 30m",
        "  per_site_concurrency: 8",
        "  concurrency: 64",
        "  autothrottle: false",
        "  timeout: 30s",
        "feeds:",
    ]
    for name, url in feeds:
        lines += [f"  - url: {json.dumps(url)}", f"    name: {json.dumps(name)}"]
    cfg = tmp / "newsmon.yaml"
    cfg.write_text("\n".join(lines) + "\n" + TOPICS_YAML, encoding="utf-8")
    return cfg


def newsmon(cfg: Path, *args: str, verbose: bool = False) -> list[str]:
    return [PYTHON, "-m", "monitor", "--config", str(cfg), *(["-v"] if verbose else []), *args]


def summary_line(stdout: str) -> str:
    """The `feeds: … new articles: N …` line of `newsmon crawl`'s summary (other lines follow it)."""
    return next((line for line in stdout.splitlines() if line.startswith("feeds: ")), "(no summary)")


def new_articles(summary: str) -> int | None:
    m = re.search(r"new articles: (\d+)", summary)
    return int(m.group(1)) if m else None


def exported_articles(cfg: Path) -> int:
    """Articles in the store, counted from ``newsmon export`` (one JSON line each)."""
    res = subprocess.run(newsmon(cfg, "export"), capture_output=True, text=True, timeout=600, cwd=REPO)
    return sum(1 for line in res.stdout.splitlines() if line.startswith("{"))


def stop_leftover_db(tmp: Path) -> None:
    """If a newsmon run was killed, its embedded database (recorded under our own temp dir) may linger."""
    state = tmp / "var" / "db" / "server.json"
    try:
        pid = int(json.loads(state.read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)


def site_stats(sites: list[Site]) -> list[dict]:
    return [get_json(f"{s.origin}/stats.json") for s in sites]


@dataclass
class Recrawl:
    """What the sites saw during the re-crawl (``/stats.json`` deltas, its own hits excluded)."""

    requests: int = 0
    not_modified: int = 0
    feed_requests: int = 0
    feed_304: int = 0
    article_requests: int = 0
    other: dict[str, int] = field(default_factory=dict)


def recrawl_delta(before: list[dict], after: list[dict]) -> Recrawl:
    r = Recrawl()
    for b, a in zip(before, after, strict=True):
        for path, n in a["paths"].items():
            d = n - b["paths"].get(path, 0)
            if not d or path in ("/stats.json", "/ground_truth.json"):
                continue
            d304 = a["not_modified_paths"].get(path, 0) - b["not_modified_paths"].get(path, 0)
            r.requests += d
            r.not_modified += d304
            if path.startswith("/synthetic/"):
                r.feed_requests += d
                r.feed_304 += d304
            elif path.startswith(("/news/", "/private/", "/r/")):
                r.article_requests += d
            else:
                r.other[path] = r.other.get(path, 0) + d
    return r


CRAWL_DONE_RE = re.compile(r"crawl finished in ([\d.]+)s \(exit (-?\d+)\): (.*)")
SCHEDULED_TIMEOUT_S = 300.0


@dataclass
class Scheduled:
    """`newsmon run`'s quiet re-crawls: CPU of its whole tree over `crawls` of them."""

    crawls: int
    window_s: float
    cpu_s: float
    walls: list[float]
    summaries: list[str]
    requests: Recrawl
    error: str = ""


def scheduled_recrawls(cfg: Path, sites: list[Site], crawls: int, every_s: int) -> Scheduled:
    """`newsmon run` every ``every_s`` on the crawled store: the tree's CPU from the end of its
    start-up crawl to the end of ``crawls`` more, so per crawl it holds the crawl process, the
    scheduler (its due-digest check after each crawl, its idle time between), the fork server the
    crawls start from, and the embedded database."""
    run_cfg = cfg.with_name("newsmon-run.yaml")
    run_cfg.write_text(cfg.read_text(encoding="utf-8").replace("every: 30m", f"every: {every_s}s"), "utf-8")
    log_path = cfg.with_name("newsmon-run.log")

    def finished() -> list[tuple[str, str, str]]:
        return CRAWL_DONE_RE.findall(log_path.read_text(encoding="utf-8", errors="replace"))

    def wait_for(n: int, proc: subprocess.Popen) -> None:
        deadline = time.monotonic() + SCHEDULED_TIMEOUT_S
        while len(finished()) < n:
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
                raise RuntimeError(f"newsmon run did not finish {n} crawls (exit {proc.returncode}):\n{tail}")
            time.sleep(0.05)

    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            newsmon(run_cfg, "run", verbose=True), stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=REPO
        )
    sampler = TreeSampler(proc.pid)
    sampler.start()
    try:
        wait_for(1, proc)
        first, started, before = sampler.snapshot(), time.perf_counter(), site_stats(sites)
        wait_for(1 + crawls, proc)
        last, window, after = sampler.snapshot(), time.perf_counter() - started, site_stats(sites)
    except RuntimeError as exc:
        return Scheduled(crawls, 0.0, 0.0, [], [], Recrawl(), error=str(exc))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        sampler.stop()
    fork_servers = {
        pid
        for (pid, _), ppid in last.parent.items()
        if ppid == proc.pid and "multiprocessing.forkserver" in _cmdline(pid)
    }
    done = finished()[1 : 1 + crawls]
    return Scheduled(
        crawls=crawls,
        window_s=window,
        cpu_s=last.cpu_since(first, fork_servers),
        walls=[float(wall) for wall, _, _ in done],
        summaries=[f"exit {code}: {summary}" for _, code, summary in done],
        requests=recrawl_delta(before, after),
    )


def article_urls(sites: list[Site]) -> list[str]:
    """Every robots-allowed article, from each site's ground truth: the pages both crawlers should fetch."""
    urls: list[str] = []
    for s in sites:
        urls += [
            a["url"]
            for a in get_json(f"{s.origin}/ground_truth.json")["articles"]
            if "/private/" not in a["url"]
        ]
    return urls


def _extract_timed(args: tuple[str, bytes]) -> tuple[float, bool]:
    """Worker: CPU seconds of one ``trafilatura.extract`` call and whether it returned text."""
    import trafilatura

    url, html = args
    t0 = time.process_time()
    text = trafilatura.extract(html, url=url)
    return time.process_time() - t0, bool(text)


@dataclass
class Floor:
    pages: int
    articles: int
    wall_s: float
    extract_cpu_s: float  # sum over calls, excludes pool start-up and imports
    pool_cpu_s: float  # everything the pool workers spent


def extraction_floor(urls: list[str]) -> Floor:
    """Fetch every page first (concurrently - fetching is not what this measures), then time extraction."""
    with cf.ThreadPoolExecutor(32) as ex:
        bodies = list(ex.map(fetch, urls))
    workers = os.cpu_count() or 1
    before = children_cpu_s()
    start = time.perf_counter()
    with cf.ProcessPoolExecutor(workers) as pool:
        results = list(
            pool.map(
                _extract_timed, zip(urls, bodies, strict=True), chunksize=max(1, len(urls) // (workers * 8))
            )
        )
    wall = time.perf_counter() - start
    return Floor(
        pages=len(urls),
        articles=sum(ok for _, ok in results),
        wall_s=wall,
        extract_cpu_s=sum(t for t, _ in results),
        pool_cpu_s=children_cpu_s() - before,
    )


# ---------------------------------------------------------------- reporting


def median_run(runs: list[Measured]) -> Measured:
    """The run of median wall time (the upper median of an even count): machine noise on a
    2-core VM moves single runs by 10-25%."""
    return sorted(runs, key=lambda m: m.wall_s)[len(runs) // 2]


def spread(runs: list[Measured]) -> str:
    walls = ", ".join(f"{m.wall_s:.1f}" for m in runs)
    cpus = ", ".join(f"{m.cpu_s:.1f}" for m in runs)
    return f"wall s {walls}; CPU s {cpus}"


def mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


def per(a: float, b: int | None) -> float:
    return a / b if b else float("nan")


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for k, r in enumerate(rows):
        out.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISS"


def report_failure(what: str, m: Measured) -> None:
    if m.rc != 0:
        tail = "\n".join(m.stderr.strip().splitlines()[-15:])
        print(f"!! {what} exited with {m.rc}; stderr tail:\n{tail}\n", flush=True)


# ---------------------------------------------------------------- scenarios


def compare(args: argparse.Namespace, newsweb: Path) -> None:
    """The full comparison: newsmon first crawl, naive baseline, extraction floor, newsmon re-crawls."""
    n_target = args.sites * args.feeds * args.items
    print(
        f"scenario: {args.sites} sites x {args.feeds} feeds x {args.items} items = {n_target} feed items, "
        f"--slow-ms {args.slow_ms}, {os.cpu_count()} CPUs",
        flush=True,
    )
    tmp = Path(tempfile.mkdtemp(prefix="newsmon-bench-crawl-"))
    runs = [tmp / f"run{i + 1}" for i in range(args.repeat)]
    sites: list[Site] = []
    try:
        sites = start_sites(newsweb, args.sites, args.feeds, args.items, args.slow_ms, args.seed, tmp)
        feeds = feed_urls(sites, args.feeds)
        allowed = article_urls(sites)

        firsts: list[Measured] = []
        for i in range(args.repeat):  # each on an empty store of its own; the last one's is re-crawled
            print(f"[1/5] newsmon crawl (empty store), run {i + 1} of {args.repeat} ...", flush=True)
            runs[i].mkdir()
            cfg = write_config(runs[i], feeds)
            firsts.append(run_measured(newsmon(cfg, "crawl", verbose=args.verbose)))
            report_failure("newsmon crawl", firsts[-1])
        first = median_run(firsts)
        first_summary = summary_line(first.stdout)
        stored = exported_articles(cfg)

        print("[2/5] naive sequential crawler ...", flush=True)
        naive = run_measured([PYTHON, str(NAIVE), *(u for _, u in feeds)])
        report_failure("naive crawler", naive)
        naive_tally = json.loads(naive.stdout.strip().splitlines()[-1]) if naive.rc == 0 else {}

        print("[3/5] extraction floor (trafilatura alone) ...", flush=True)
        floor = extraction_floor(allowed)

        before = site_stats(sites)
        seconds: list[Measured] = []
        for i in range(args.repeat):
            print(f"[4/5] newsmon crawl again (nothing new), run {i + 1} of {args.repeat} ...", flush=True)
            seconds.append(run_measured(newsmon(cfg, "crawl", verbose=args.verbose)))
            report_failure("newsmon re-crawl", seconds[-1])
        second = median_run(seconds)
        rc = recrawl_delta(before, site_stats(sites))  # all re-crawls together
        second_summary = summary_line(second.stdout)

        print(f"[5/5] newsmon run, {args.scheduled} scheduled crawls (nothing new) ...", flush=True)
        sched = scheduled_recrawls(cfg, sites, args.scheduled, args.every)
    finally:
        stop_sites(sites)
        for run in runs:
            stop_leftover_db(run)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    nm_articles = new_articles(first_summary)
    nv_articles = naive_tally.get("articles")
    print()
    print(f"newsmon crawl 1: {first_summary}   (export: {stored} articles)")
    print(f"newsmon crawl 2: {second_summary}")
    print(f"naive crawler:   {json.dumps(naive_tally)}")
    print(f"robots-allowed article pages (ground truth): {len(allowed)}")
    print()
    rows = [
        ["run", "wall s", "CPU s", "of which children s", "peak RSS", "articles", "CPU ms/article"],
        [
            "newsmon crawl (first)",
            f"{first.wall_s:.1f}",
            f"{first.cpu_s:.1f}",
            f"{first.cpu_children_s:.1f}",
            mib(first.peak_rss),
            str(nm_articles),
            f"{1000 * per(first.cpu_s, nm_articles):.1f}",
        ],
        [
            "naive sequential",
            f"{naive.wall_s:.1f}",
            f"{naive.cpu_s:.1f}",
            "-",
            mib(naive.peak_rss),
            str(nv_articles),
            f"{1000 * per(naive.cpu_s, nv_articles):.1f}",
        ],
        [
            f"trafilatura floor ({os.cpu_count()} procs)",
            f"{floor.wall_s:.1f}",
            f"{floor.extract_cpu_s:.1f}",
            "-",
            "-",
            str(floor.articles),
            f"{1000 * per(floor.extract_cpu_s, floor.articles):.1f}",
        ],
        [
            "newsmon re-crawl",
            f"{second.wall_s:.1f}",
            f"{second.cpu_s:.1f}",
            f"{second.cpu_children_s:.1f}",
            mib(second.peak_rss),
            str(new_articles(second_summary)),
            "-",
        ],
    ]
    if not sched.error:
        per_crawl = sched.cpu_s / sched.crawls
        rows.append(
            [
                "newsmon run re-crawl (per crawl)",
                f"{sorted(sched.walls)[len(sched.walls) // 2]:.1f}",
                f"{per_crawl:.2f}",
                "-",
                "-",
                "-",
                "-",
            ]
        )
    print(table(rows))
    print(f"(floor: pool workers' total CPU incl. start-up {floor.pool_cpu_s:.1f} s)")
    if sched.error:
        print(f"!! newsmon run: {sched.error}")
    else:
        print(
            f"(newsmon run: every {args.every}s, {sched.crawls} quiet crawls in {sched.window_s:.1f} s, "
            f"tree CPU {sched.cpu_s:.2f} s; crawl walls s {', '.join(f'{w:.1f}' for w in sched.walls)}; "
            f"{sched.summaries[-1]})"
        )
    if args.repeat > 1:
        print(f"(newsmon rows: the run of median wall of {args.repeat}; re-crawl requests: all of them)")
        print(f"newsmon first crawls: {spread(firsts)}")
        print(f"newsmon re-crawls:    {spread(seconds)}")
    print()

    speedup = naive.wall_s / first.wall_s
    cpu_ratio = per(first.cpu_s, nm_articles) / per(naive.cpu_s, nv_articles)
    share = per(rc.not_modified, rc.requests)
    feed_share = per(rc.feed_304, rc.feed_requests)
    recrawl_cpu = second.cpu_s / first.cpu_s
    rows = [
        ["metric", "value", "target", ""],
        ["naive wall / newsmon wall", f"{speedup:.1f}x", ">= 10x", verdict(speedup >= 10)],
        ["newsmon CPU/article / naive CPU/article", f"{cpu_ratio:.2f}x", "<= 2x", verdict(cpu_ratio <= 2)],
        [
            "newsmon CPU/article / floor CPU/article",
            f"{per(first.cpu_s, nm_articles) / per(floor.extract_cpu_s, floor.articles):.2f}x",
            "(info)",
            "",
        ],
        [
            "re-crawl 304 share (all requests)",
            f"{100 * share:.1f}% ({rc.not_modified}/{rc.requests})",
            ">= 95%",
            verdict(share >= 0.95),
        ],
        [
            "re-crawl 304 share (feeds only)",
            f"{100 * feed_share:.1f}% ({rc.feed_304}/{rc.feed_requests})",
            "(info)",
            "",
        ],
        [
            "re-crawl other requests",
            ", ".join(f"{p} x{n}" for p, n in sorted(rc.other.items())) or "0",
            "(info)",
            "",
        ],
        ["re-crawl article requests", str(rc.article_requests), "0", verdict(rc.article_requests == 0)],
        ["re-crawl CPU / first crawl CPU", f"{100 * recrawl_cpu:.1f}%", "< 5%", verdict(recrawl_cpu < 0.05)],
    ]
    if not sched.error:
        sched_cpu = sched.cpu_s / sched.crawls / first.cpu_s
        sr = sched.requests
        rows += [
            [
                "scheduled re-crawl CPU / first crawl CPU",
                f"{100 * sched_cpu:.1f}%",
                "< 5%",
                verdict(sched_cpu < 0.05),
            ],
            [
                "scheduled re-crawls: 304s, article requests",
                f"{sr.not_modified}/{sr.requests}, {sr.article_requests}",
                ">= 95%, 0",
                verdict(per(sr.not_modified, sr.requests) >= 0.95 and sr.article_requests == 0),
            ],
        ]
    rows += [
        ["newsmon peak RSS (tree, first crawl)", mib(first.peak_rss), "(info)", ""],
    ]
    print(table(rows))


def articles_scan(args: argparse.Namespace, newsweb: Path) -> None:
    """newsmon first crawls at growing sizes (fresh sites and store each time) to show peak RSS growth."""
    rows = [["feed items", "articles", "wall s", "CPU s", "CPU ms/article", "peak RSS", "RSS KiB/article"]]
    results: list[tuple[int, int]] = []
    for feeds in args.scan_feeds:
        n = args.sites * feeds * args.items
        print(f"scan: {args.sites} sites x {feeds} feeds x {args.items} items = {n} ...", flush=True)
        tmp = Path(tempfile.mkdtemp(prefix="newsmon-bench-scan-"))
        sites: list[Site] = []
        try:
            sites = start_sites(newsweb, args.sites, feeds, args.items, args.slow_ms, args.seed, tmp)
            cfg = write_config(tmp, feed_urls(sites, feeds))
            m = run_measured(newsmon(cfg, "crawl", verbose=args.verbose))
            report_failure("newsmon crawl", m)
        finally:
            stop_sites(sites)
            stop_leftover_db(tmp)
            if not args.keep:
                shutil.rmtree(tmp, ignore_errors=True)
        got = new_articles(m.stdout) or 0
        results.append((got, m.peak_rss))
        rows.append(
            [
                str(n),
                str(got),
                f"{m.wall_s:.1f}",
                f"{m.cpu_s:.1f}",
                f"{1000 * per(m.cpu_s, got):.1f}",
                mib(m.peak_rss),
                f"{per(m.peak_rss, got) / 1024:.0f}",
            ]
        )
    print()
    print(table(rows))
    if len(results) >= 2 and results[-1][0] > results[0][0]:
        (a0, r0), (a1, r1) = results[0], results[-1]
        print(
            f"peak RSS growth {mib(r0)} -> {mib(r1)} for {a1 / a0:.1f}x articles: "
            f"{(r1 - r0) / (a1 - a0) / 1024:.1f} KiB per extra article"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sites", type=int, default=8)
    ap.add_argument("--feeds", type=int, default=5, help="synthetic feeds per site")
    ap.add_argument("--items", type=int, default=25, help="items per feed")
    ap.add_argument("--slow-ms", type=int, default=100, help="newsweb delay per response")
    ap.add_argument("--seed", type=int, default=1, help="site i gets seed+i")
    ap.add_argument(
        "--quick", action="store_true", help="2 sites x 2 feeds x 5 items, 20 ms: checks the bench"
    )
    ap.add_argument("--articles-scan", action="store_true", help="newsmon only, at each --scan-feeds size")
    ap.add_argument(
        "--scan-feeds",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[5, 25],
        help="feeds per site for --articles-scan (default 5,25: 1,000 and 5,000 articles at 8x..x25)",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="newsmon first crawls (each on an empty store) and re-crawls; the median run is reported",
    )
    ap.add_argument(
        "--scheduled", type=int, default=5, help="quiet crawls of `newsmon run` to measure (after its first)"
    )
    ap.add_argument("--every", type=int, default=5, help="crawl.every for `newsmon run`, in seconds")
    ap.add_argument("--verbose", "-v", action="store_true", help="pass -v to newsmon")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (config, store, logs)")
    args = ap.parse_args(argv)
    if args.quick:
        args.sites, args.feeds, args.items, args.slow_ms = 2, 2, 5, 20
        args.scan_feeds = [1, 2]
    if args.repeat < 1 or args.scheduled < 1 or args.every < 1:
        ap.error("--repeat, --scheduled and --every must be 1 or more")
    if not 1 <= args.sites <= MAX_SITES:
        ap.error(f"--sites must be 1..{MAX_SITES}")

    newsweb = shared_dir() / "bench" / "newsweb.py"
    if not newsweb.is_file():
        print(
            f"error: {newsweb} not found. The crawl bench needs the shared folder (the repo's sibling "
            "shared/, or set NEWSMON_SHARED).",
            file=sys.stderr,
        )
        return 2
    # Byte-compile newsmon as an install does: with PYTHONDONTWRITEBYTECODE set (as on the
    # development machines) every newsmon process would otherwise compile its own sources.
    compileall.compile_dir(REPO / "monitor", quiet=1)
    compileall.compile_dir(REPO / "spiders", quiet=1)
    if args.articles_scan:
        articles_scan(args, newsweb)
    else:
        compare(args, newsweb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
