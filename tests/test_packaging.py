"""pyproject.toml declares what requirements*.txt install, and installs no top-level package."""

import pytest

from conftest import ROOT

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11


def reqs(name):
    return sorted(line.strip() for line in (ROOT / name).read_text().splitlines() if line.strip() and not line.startswith("#"))


def test_pyproject_matches_the_requirement_files():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert sorted(meta["project"]["dependencies"]) == reqs("requirements.txt")
    assert sorted(meta["project"]["optional-dependencies"]["dev"]) == reqs("requirements-dev.txt")
    assert sorted(meta["project"]["optional-dependencies"]["bench"]) == reqs("requirements-bench.txt")
    assert meta["tool"]["setuptools"]["packages"] == []  # datasets/, models/ must not reach site-packages
