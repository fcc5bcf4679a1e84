"""The README's training table, computed from the committed per-run figures of bench/seeds.py.

    python -m bench.seeds_table bench/results/seeds_*.csv

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
        out.append(f"| {path.stem.removeprefix('seeds_')} | {system} | {len(rs)} | {stats(eer)} | {stats(dcf)} | "
                   f"{conv} | {mins:.1f} |")
    ref = [float(r["eer"]) for r in runs if r["system"] == "reference"]
    if ref:
        ratio = statistics.mean(float(r["eer"]) for r in runs if r["system"] == "recipe") / statistics.mean(ref)
        out.append(f"| {path.stem.removeprefix('seeds_')} | recipe / reference EER | | {ratio:.2f}× | | | |")
    return out


def main(argv=None) -> int:
    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])]
    if not paths:
        print("usage: python -m bench.seeds_table FILE.csv ...", file=sys.stderr)
        return 2
    print("| runs of | system | seeds | EER % mean ± sd [min, max] | minDCF(0.01) mean ± sd [min, max] | "
          "converged | training min/run |")
    print("|---|---|---|---|---|---|---|")
    for p in paths:
        print("\n".join(rows_of(p)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
