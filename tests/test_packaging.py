"""A wheel (`pip install .`) holds everything newsmon reads at run time: pyproject.toml lists the
packages by hand (the Jinja templates live in the repository's templates/ and are installed as
monitor/templates), so a package or data file added to the tree must be added there too."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def _source_dir(package: str) -> Path:
    mapped = SETUPTOOLS.get("package-dir", {})
    return REPO / mapped.get(package, package.replace(".", "/"))


def test_every_package_of_the_tree_is_listed_and_every_listed_one_exists():
    in_tree = {
        ".".join(init.parent.relative_to(REPO).parts)
        for top in ("monitor", "spiders")
        for init in (REPO / top).rglob("__init__.py")
    }
    listed = set(SETUPTOOLS["packages"])
    assert in_tree <= listed, f"add to pyproject.toml's packages: {sorted(in_tree - listed)}"
    for package in listed:
        assert _source_dir(package).is_dir(), f"{package}: no {_source_dir(package)}"


def test_every_file_read_at_run_time_is_in_the_wheel():
    data = SETUPTOOLS["package-data"]
    listed = set(SETUPTOOLS["packages"])
    for package in listed:
        folder = _source_dir(package)
        for path in folder.iterdir():
            if path.is_dir() or path.suffix in (".py", ".pyc"):
                continue  # sub-packages are listed on their own; modules go in anyway
            patterns = data.get(package, [])
            assert any(fnmatch.fnmatch(path.name, p) for p in patterns), (
                f"{path.relative_to(REPO)} would be left out of a wheel: add it to package-data"
            )
    # and what the code looks for there
    assert (_source_dir("monitor.templates") / "digest.html.j2").is_file()
    assert (_source_dir("monitor") / "example.yaml").is_file()
