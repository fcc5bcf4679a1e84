"""The training table of docs/training.md, computed from the committed per-run figures of bench/seeds.py.

    python -m bench.seeds_table bench/results/seeds_*.csv
    python -m bench.seeds_table --readme docs/training.md bench/results/seeds_*.csv   # rewrite its table

With --readme, the table between the file's ``<!-- seeds_table -->`` and ``<!-- /seeds_table -->``
lines is replaced by the one computed here (tests/test_readme.py checks that they agree).

One row per (file, system): runs, EER mean ± sd [min, max], minDCF(0.01) mean ± sd, converged runs,
training minutes per run; and, where a file holds reference runs, the recipe / reference EER ratio.
"""

from __future__ import annotations

import csv
import statistics
import sys
from pathlib import Path


def stats(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f} (one run)"
    sd = statistics.stdev(values)
    return f"{statistics.mean(values):.2f} ± {sd:.2f} [{min(values):.2f}, {max(values):.2f}]"


def rows_of(path: Path) -> list[str]:
    runs = list(csv.DictReader(open(path)))
    out = []
    for system in ("recipe", "reference"):
        rs = [r for r in runs if r["system"] == system]
        if not rs:
            continue
        eer = [float(r["eer"]) for r in rs]
        dcf = [float(r["mindcf_0.01"]) for r in rs]
        conv = f"{sum(r['converged'] == 'True' for r in rs)}/{len(rs)}" if system == "recipe" else "–"
        mins = statistics.mean(float(r["train_seconds"]) for r in rs) / 60
        out.append(
            f"| {path.stem.removeprefix('seeds_')} | {system} | {len(rs)} | {stats(eer)} | {stats(dcf)} | {conv} | {mins:.1f} |"
        )
    ref = [float(r["eer"]) for r in runs if r["system"] == "reference"]
    if ref:
        ratio = statistics.mean(float(r["eer"]) for r in runs if r["system"] == "recipe") / statistics.mean(ref)
        out.append(f"| {path.stem.removeprefix('seeds_')} | recipe / reference EER | | {ratio:.2f}× | | | |")
    return out


MARK, END = "<!-- seeds_table -->", "<!-- /seeds_table -->"


def table(paths: list[Path]) -> str:
    head = [
        "| runs of | system | seeds | EER % mean ± sd [min, max] | minDCF(0.01) mean ± sd [min, max] | "
        "converged | training min/run |",
        "|---|---|---|---|---|---|---|",
    ]
    return "\n".join(head + [row for p in paths for row in rows_of(p)]) + "\n"


def readme_block(text: str, where: str, marks: tuple[str, str] = (MARK, END)) -> tuple[int, int]:
    """(start, end) character offsets of the block between the markers of a README text."""
    a, b = text.find(marks[0]), text.find(marks[1])
    if a < 0 or b < a:
        raise SystemExit(f"{where} has no '{marks[0]}' ... '{marks[1]}' block")
    return a + len(marks[0]) + 1, b


def main(argv=None) -> int:
    args = list(argv if argv is not None else sys.argv[1:])
    readme = None
    if args[:1] == ["--readme"] and len(args) > 1:
        readme, args = Path(args[1]), args[2:]
    paths = [Path(p) for p in args]
    if not paths:
        print("usage: python -m bench.seeds_table [--readme README.md] FILE.csv ...", file=sys.stderr)
        return 2
    out = table(paths)
    if readme is None:
        print(out, end="")
        return 0
    text = readme.read_text()
    a, b = readme_block(text, str(readme))
    readme.write_text(text[:a] + out + text[b:])
    print(f"seeds_table: {readme}: table of {len(paths)} file(s) written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
