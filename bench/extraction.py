"""Compare newsmon's article extraction with trafilatura on the AEB corpus, full and held out.

    python bench/extraction.py [--n-bootstrap 200] [--splits all,held-out,tune]

Runs the shared scorer (``shared/bench/extraction_eval.py``) as a tool, once per extractor and split,
one after the other on the same machine, and prints P/R/F1/docs-per-second side by side. The held-out
split is a fixed 30% of the AEB ids chosen by hash (``is_held_out``): the extraction rules and
thresholds were tuned on the other 70% only, so the held-out row is the honest estimate.

The shared folder is the repository's sibling ``shared/`` unless ``$NEWSMON_SHARED`` names another.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HELD_OUT_TENTHS = 3  # 3 in 10 ids (57 of AEB's 181)


def shared_dir() -> Path:
    """Where the benchmark corpus and scorer live."""
    env = os.environ.get("NEWSMON_SHARED")
    return Path(env) if env else REPO.parent / "shared"


def is_held_out(doc_id: str) -> bool:
    """Fixed, content-independent split: about 30% of ids are never used for tuning."""
    return int(hashlib.sha256(doc_id.encode("utf-8")).hexdigest(), 16) % 10 < HELD_OUT_TENTHS


def make_split(corpus: Path, split: str, into: Path) -> Path:
    """An AEB-format corpus directory holding only the split's documents (HTML files symlinked)."""
    if split == "all":
        return corpus
    truth = json.loads((corpus / "ground-truth.json").read_text("utf-8"))
    keep = {k: v for k, v in truth.items() if is_held_out(k) == (split == "held-out")}
    out = into / split
    (out / "html").mkdir(parents=True)
    (out / "ground-truth.json").write_text(json.dumps(keep), "utf-8")
    for doc_id in keep:
        for name in (f"{doc_id}.html.gz", f"{doc_id}.html"):
            if (corpus / "html" / name).exists():
                (out / "html" / name).symlink_to((corpus / "html" / name).resolve())
                break
    return out


def score(scorer: Path, corpus: Path, extractor: str, n_bootstrap: int, into: Path) -> dict:
    """Run the scorer once; its summary JSON."""
    summary = into / f"summary-{abs(hash((str(corpus), extractor)))}.json"
    cmd = [
        sys.executable,
        str(scorer),
        "--corpus",
        str(corpus),
        "--extractor",
        extractor,
        "--n-bootstrap",
        str(n_bootstrap),
        "--summary-json",
        str(summary),
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0 or not summary.exists():
        raise SystemExit(f"scorer failed for {extractor}:\n{proc.stderr[-2000:]}")
    return json.loads(summary.read_text("utf-8"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-bootstrap", type=int, default=200)
    ap.add_argument("--splits", default="all,held-out", help="comma list of all, held-out, tune")
    ap.add_argument(
        "--ours",
        default=f"cmd:{shlex.quote(sys.executable)} -m monitor.commands.extract",
        help="our extractor as the scorer's cmd: spec",
    )
    opts = ap.parse_args(argv)

    shared = shared_dir()
    scorer = shared / "bench" / "extraction_eval.py"
    corpus = shared / "corpus" / "aeb"
    if not scorer.is_file() or not (corpus / "ground-truth.json").is_file():
        print(
            f"extraction benchmark skipped: no scorer/corpus under {shared} "
            "(set NEWSMON_SHARED to the shared folder)",
            file=sys.stderr,
        )
        return 0

    rows = []
    with tempfile.TemporaryDirectory(prefix="newsmon-bench-") as tmp:
        for split in [s.strip() for s in opts.splits.split(",") if s.strip()]:
            if split not in {"all", "held-out", "tune"}:
                raise SystemExit(f"unknown split {split!r}")
            split_corpus = make_split(corpus, split, Path(tmp))
            for name, extractor in (("trafilatura", "trafilatura"), ("newsmon", opts.ours)):
                m = score(scorer, split_corpus, extractor, opts.n_bootstrap, Path(tmp))
                rows.append((split, m["docs"], name, m))
                print(f"  done: {split} {name} F1 {m['f1']:.3f}", file=sys.stderr)

    print(f"{'split':<9} {'docs':>4}  {'extractor':<12} {'P':>6} {'R':>6} {'F1':>6} {'±F1':>6} {'docs/s':>7}")
    for split, docs, name, m in rows:
        speed = f"{m['docs_per_s']:.1f}" if m.get("docs_per_s") else "-"
        sd = f"{m['f1_std']:.3f}" if "f1_std" in m else "-"
        print(
            f"{split:<9} {docs:>4}  {name:<12} {m['precision']:>6.3f} {m['recall']:>6.3f} "
            f"{m['f1']:>6.3f} {sd:>6} {speed:>7}"
        )
    print("docs/s: trafilatura is timed in-process; newsmon as a command, interpreter start-up included.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
