"""The tree passes the linter configured in pyproject.toml ([tool.ruff]: ruff's default rules, pycodestyle
warnings and bugbear), so that README command (2) and CI check it with the tests."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_check_passes():
    p = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)], capture_output=True,
                       text=True, cwd=ROOT)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-1000:]


def test_ruff_finds_a_planted_fault(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\n\ndef f(x):\n    return x == None\n")
    p = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"),
                        str(bad)], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 1 and "F401" in p.stdout and "E711" in p.stdout
