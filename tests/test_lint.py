"""The tree passes the linter and the formatter configured in pyproject.toml ([tool.ruff]: ruff's default
rules, pycodestyle warnings and bugbear; ruff format), and its functions and files stay small, so that
README command (2) and CI check it with the tests."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_check_passes():
    p = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-1000:]


def test_ruff_finds_a_planted_fault(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\n\ndef f(x):\n    return x == None\n")
    p = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"), str(bad)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert p.returncode == 1 and "F401" in p.stdout and "E711" in p.stdout


def test_ruff_format_check_passes():
    p = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", str(ROOT)], capture_output=True, text=True, cwd=ROOT
    )
    assert p.returncode == 0, "run `ruff format .`:\n" + p.stdout[-3000:] + p.stderr[-1000:]


def function_sizes(root: Path) -> tuple[list[int], dict[str, int]]:
    """(lines of every def from its first line to its last, lines per file) of the tree's Python."""
    import ast

    sizes, files = [], {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in (".venv", "data", "exp") or rel.parts[0].startswith("."):
            continue
        text = path.read_text()
        files[str(rel)] = len(text.splitlines())
        sizes += [
            n.end_lineno - n.lineno + 1
            for n in ast.walk(ast.parse(text))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
        ]
    return sorted(sizes), files


def test_function_and_file_sizes_stay_small():
    """Formatted, functions stay at p90 <= 25 and max <= 49 lines and files under 400 lines."""
    sizes, files = function_sizes(ROOT)
    p90 = sizes[int(0.9 * len(sizes))]
    assert p90 <= 25 and sizes[-1] <= 49, f"function sizes p90 {p90}, max {sizes[-1]} lines"
    big = {f: n for f, n in files.items() if n >= 400}
    assert not big, f"files of 400 lines or more: {big}"


def test_size_check_sees_a_long_function(tmp_path):
    (tmp_path / "m.py").write_text("def f():\n" + "    x = 1\n" * 60)
    sizes, files = function_sizes(tmp_path)
    assert sizes == [61] and files == {"m.py": 61}
