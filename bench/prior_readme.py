"""The README's prior-experiment table, computed from a committed results folder of local/prior_table.sh
(its runs.csv and comparisons.csv, which steps.prior_table wrote from the runs' scores).

    python -m bench.prior_readme bench/results/prior_experiment
    python -m bench.prior_readme --readme README.md bench/results/prior_experiment   # rewrite README's table
    python -m bench.prior_readme --readme README.md --block planted_table --comparisons-only bench/results/prior_planted

With --readme, the lines between the README's ``<!-- BLOCK -->`` and ``<!-- /BLOCK -->`` (BLOCK:
--block, default prior_table) are replaced by the table computed here (tests/test_readme.py checks
that they agree).

Rows: per prior, EER mean ± sd over seeds and the runs that converged; then every EER comparison, the
primaries first: Δ (points, A - B, negative: A better), its interval (two-level bootstrap over seeds x
test speakers, at Holm's level for a primary), p and Holm's p, the paired sd and the minimum
detectable difference at the seeds run.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
from pathlib import Path

from bench.seeds_table import readme_block


def marks(block: str) -> tuple[str, str]:
    return f"<!-- {block} -->", f"<!-- /{block} -->"


MARKS = marks("prior_table")  # the experiment corpus; the planted-band corpus is block planted_table


def _pts(x: str) -> str:
    return f"{100 * float(x):+.2f}"


def _points(x: str) -> str:
    """A CSV value in EER fraction as points, or – where none could be computed (one seed: nan, inf)."""
    return f"{100 * float(x):.2f}" if x and math.isfinite(float(x)) else "–"


def prior_rows(runs: list[dict]) -> list[str]:
    out = ["| prior | seeds | EER % mean ± sd | converged |", "|---|---|---|---|"]
    for prior in dict.fromkeys(r["prior"] for r in runs):  # in the table's order
        rs = [r for r in runs if r["prior"] == prior]
        eer = [100 * float(r["eer"]) for r in rs]
        sd = f" ± {statistics.stdev(eer):.2f}" if len(eer) > 1 else ""
        conv = sum(r["converged"] == "True" for r in rs)
        out.append(f"| {prior} | {len(rs)} | {statistics.mean(eer):.2f}{sd} | {conv}/{len(rs)} |")
    return out


def comparison_rows(comps: list[dict]) -> list[str]:
    out = [
        "| comparison | kind | seeds | Δ EER (points) | interval (level) | p / Holm p | paired sd | MDE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    eer = sorted((c for c in comps if c["metric"] == "eer"), key=lambda c: c["kind"] != "primary")
    for c in eer:
        holm = c["p_holm"] or "–"
        holm = f"{float(holm):.3f}" if holm != "–" else holm
        sd, mde = _points(c["paired_sd"]), _points(c["mde"])
        interval = f"[{_pts(c['lo'])}, {_pts(c['hi'])}] ({100 * float(c['level']):.1f} %)"
        out.append(
            f"| {c['a']} vs {c['b']} | {c['kind']} | {c['seeds']} | {_pts(c['diff'])} | {interval} | "
            f"{float(c['p']):.3f} / {holm} | {sd} | {mde} |"
        )
    return out


def table(folder: Path, priors: bool = True) -> str:
    """The per-prior rows (unless ``priors`` is False), then the EER comparisons."""
    runs = list(csv.DictReader(open(folder / "runs.csv")))
    comps = list(csv.DictReader(open(folder / "comparisons.csv")))
    head = prior_rows(runs) + [""] if priors else []
    return "\n".join(head + comparison_rows(comps)) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="The README's table of a committed prior experiment.")
    ap.add_argument("--readme", type=Path, help="rewrite this file's block instead of printing")
    ap.add_argument("--block", default="prior_table", help="the block's marker name (default: %(default)s)")
    ap.add_argument("--comparisons-only", action="store_true", help="leave out the per-prior rows")
    ap.add_argument("results", type=Path, help="a results folder with runs.csv and comparisons.csv")
    a = ap.parse_args(argv)
    out = table(a.results, priors=not a.comparisons_only)
    if a.readme is None:
        print(out, end="")
        return 0
    text = a.readme.read_text()
    start, end = readme_block(text, str(a.readme), marks(a.block))
    a.readme.write_text(text[:start] + out + text[end:])
    print(f"prior_readme: {a.readme}: block {a.block} from {a.results} written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
