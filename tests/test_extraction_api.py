"""The contract the crawl relies on: errors, drop selectors, feed text, purity, and the CLI."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.commands import extract as extract_cmd
from monitor.extraction import ExtractionError, compile_selectors, extract_article
from monitor.models import FeedEntry

PAGES = Path(__file__).parent / "data" / "pages"
PARAS = [
    "The regional parliament approved the new transport plan on Thursday after a debate that lasted most "
    "of the night. The plan adds two tram lines and doubles the number of night buses.",
    "Opposition members said the budget was too small for the promised work, but the minister replied that "
    "the first contracts would be signed before the end of the year.",
]


def _page(extra: str = "") -> str:
    body = "".join(f"<p>{p}</p>" for p in PARAS)
    return (
        f"<html><head><title>Plan approved</title></head><body><article>{body}{extra}</article></body></html>"
    )


def test_importing_extraction_loads_no_crawl_or_storage_stack() -> None:
    code = (
        "import sys, monitor.extraction, monitor.commands.extract; "
        "bad = [m for m in ('scrapy', 'twisted', 'pymongo') if m in sys.modules]; print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", None),
        (b"   ", "text/html"),
        (b"%PDF-1.7 binary", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", None),
        (b"<html><body><nav><a href='/'>Home</a></nav></body></html>", "text/html"),
        # found by fuzzing: readability hands back a whole document, which lxml refused with an
        # AssertionError that escaped the extractor (and the crawl retried the page, in vain)
        (b"<html><!--<![en", "text/html"),
    ],
    ids=["empty", "blank", "pdf", "binary", "no-text", "unclosed-comment"],
)
def test_no_article_raises_extraction_error(body: bytes, content_type: str | None) -> None:
    with pytest.raises(ExtractionError):
        extract_article(body, "https://x.test/a", content_type=content_type)


def test_text_before_an_unclosed_comment_is_extracted() -> None:
    body = f"<html><body><article><p>{PARAS[0]}</p></article><!--<![en".encode()
    assert extract_article(body, "https://x.test/a", content_type="text/html").text == PARAS[0]


def test_extraction_error_is_a_value_error() -> None:
    assert issubclass(ExtractionError, ValueError)


def test_drop_selectors_remove_site_specific_blocks() -> None:
    extra = '<div class="promo-box"><p>Our partners offer the best deals on tram passes this week.</p></div>'
    html = _page(extra)
    assert "tram passes" in extract_article(html, "https://x.test/a").text
    art = extract_article(html, "https://x.test/a", drop_selectors=(".promo-box",))
    assert "tram passes" not in art.text
    assert PARAS[1] in art.text


def test_bad_selector_is_reported() -> None:
    with pytest.raises(ValueError, match="invalid CSS selector"):
        compile_selectors(["div[["])


def test_feed_full_text_replaces_a_teaser_page() -> None:
    teaser = (
        f"<html><body><article><p>{PARAS[0]}</p><p>Subscribe to read the rest.</p></article></body></html>"
    )
    extra = "The first tram line will open in 2026 and the second two years later, the ministry said."
    full = "".join(f"<p>{p}</p>" for p in [*PARAS, extra])
    entry = FeedEntry(feed="f", key="k", link="https://x.test/a", content_html=full)
    art = extract_article(teaser, "https://x.test/a", entry=entry)
    assert extra in art.text
    assert "Subscribe" not in art.text


def test_unrelated_feed_text_does_not_replace_the_page() -> None:
    other = (
        "<p>"
        + "A completely different story about football results and the weather at the weekend. " * 6
        + "</p>"
    )
    entry = FeedEntry(feed="f", key="k", link="https://x.test/a", content_html=other)
    art = extract_article(_page(), "https://x.test/a", entry=entry)
    assert "football" not in art.text
    assert PARAS[0] in art.text


def test_feed_text_used_when_page_has_none() -> None:
    entry = FeedEntry(feed="f", key="k", link="https://x.test/a", content_html=f"<p>{PARAS[0]}</p>")
    art = extract_article("<html><body><nav>Home</nav></body></html>", "https://x.test/a", entry=entry)
    assert art.text == PARAS[0]


# ---------------------------------------------------------------- CLI


def test_cli_prints_one_object_per_input_and_flags_failures(tmp_path: Path, monkeypatch) -> None:
    good = tmp_path / "good.html"
    good.write_text(_page(), "utf-8")
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"")
    missing = tmp_path / "missing.html"
    urls = tmp_path / "urls.json"
    urls.write_text(json.dumps({str(good): "https://x.test/2024/05/06/plan"}), "utf-8")
    monkeypatch.setenv("EXTRACTION_EVAL_URLS", str(urls))
    out = io.StringIO()
    code = extract_cmd.run([str(good), str(empty), str(missing)], out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert code == 1
    assert len(lines) == 3
    assert lines[0]["url"] == "https://x.test/2024/05/06/plan"
    assert lines[0]["published"] == "2024-05-06T00:00:00+00:00"
    assert set(lines[0]) == {
        "url",
        "title",
        "text",
        "authors",
        "published",
        "language",
        "image",
        "canonical_url",
    }
    assert PARAS[0] in lines[0]["text"]
    assert lines[1]["text"] == "" and "ExtractionError" in lines[1]["error"]
    assert lines[2]["text"] == "" and "error" in lines[2]


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe{}"], ids=["not-json", "not-utf8"])
def test_cli_unreadable_url_map_is_one_line_and_exit_2(tmp_path: Path, monkeypatch, capsys, content) -> None:
    urls = tmp_path / "urls.json"
    urls.write_bytes(content)
    monkeypatch.setenv("EXTRACTION_EVAL_URLS", str(urls))
    out = io.StringIO()
    assert extract_cmd.run([str(tmp_path / "page.html")], out) == 2
    assert out.getvalue() == ""
    assert capsys.readouterr().err.startswith("newsmon extract: $EXTRACTION_EVAL_URLS: ")


def test_cli_main_exit_zero_when_all_succeed(tmp_path: Path) -> None:
    good = tmp_path / "good.html"
    good.write_text(_page(), "utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "monitor.commands.extract", "--json", str(good)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["title"] == "Plan approved"


def test_register_sets_handler() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    extract_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["extract", "--json", "a.html"])
    assert args.func.__name__ == "_handle" and args.inputs == ["a.html"]


def test_cli_reads_gzipped_pages_by_their_magic_bytes(tmp_path: Path) -> None:
    """The AEB corpus keeps its pages as .html.gz: read as the page, not as "empty or unparseable
    HTML" with trafilatura's ERROR on stderr; a gzip file without the suffix too."""
    (page,) = (Path(__file__).parent / "data" / "pages").glob("359fee22*.html.gz")
    renamed = tmp_path / "titan.html"
    renamed.write_bytes(page.read_bytes())
    proc = subprocess.run(
        [sys.executable, "-m", "monitor.commands.extract", "--json", str(page), str(renamed)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ERROR" not in proc.stderr, proc.stderr
    for line in proc.stdout.splitlines():
        record = json.loads(line)
        assert (
            record["title"] == "The First Map of Saturn's Moon Titan Just Revealed Some Tantalising Features"
        )
        assert record["text"].startswith("WASHINGTON (Reuters) - Scientists on Monday unveiled")


def test_cli_refuses_a_gzipped_page_that_unpacks_beyond_the_limit(tmp_path: Path) -> None:
    import gzip

    bomb = tmp_path / "bomb.html.gz"
    bomb.write_bytes(gzip.compress(b"<p>" + b" " * extract_cmd.MAX_BYTES))  # ~10 kB, 10 MB unpacked
    cut = tmp_path / "cut.html.gz"
    cut.write_bytes(gzip.compress(_page().encode())[:-20])
    out = io.StringIO()
    assert extract_cmd.run([str(bomb), str(cut)], out) == 1
    errors = [json.loads(line)["error"] for line in out.getvalue().splitlines()]
    assert errors == [
        f"ValueError: {str(bomb)!r} is larger than {extract_cmd.MAX_BYTES} bytes once unpacked",
        f"ValueError: {str(cut)!r} is gzip data cut short",
    ]
