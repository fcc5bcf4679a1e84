"""The per-run figures of a bench.seeds run scored on another trials list: the same trained models,
the EER and minDCFs of each seed's <runs>/s<seed>/scores/<name>.json (written by steps.score --name).

    python -m bench.seeds_rescore --runs exp/seeds_demo_rescnn --name wide_last \\
        --out bench/results/seeds_demo_rescnn_test200.csv

Steps, convergence and training seconds are copied from <runs>/seeds.csv; a seed without that score
file is an error naming it (nothing is written).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

FIELDS = ("system", "seed", "eer", "mindcf_0.01", "mindcf_0.001", "steps", "converged", "train_seconds")


def rescored(runs: Path, name: str) -> list[dict]:
    rows = [r for r in csv.DictReader(open(runs / "seeds.csv")) if r["system"] == "recipe"]
    out = []
    for r in rows:
        f = runs / f"s{r['seed']}" / "scores" / f"{name}.json"
        if not f.exists():
            raise SystemExit(f"seeds_rescore: {f} missing: score seed {r['seed']} with steps.score --name {name}")
        m = json.loads(f.read_text())
        out.append(
            {
                **r,
                "eer": f"{100 * m['eer']['value']:.3f}",
                "mindcf_0.01": f"{m['mindcf_0.01']['value']:.4f}",
                "mindcf_0.001": f"{m['mindcf_0.001']['value']:.4f}",
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", required=True, help="the --out dir of a bench.seeds run")
    p.add_argument("--name", required=True, help="the score name (steps.score --name)")
    p.add_argument("--out", required=True, help="the CSV to write")
    a = p.parse_args(argv)
    buf = io.StringIO()
    w = csv.DictWriter(buf, FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rescored(Path(a.runs), a.name))
    Path(a.out).write_text(buf.getvalue())
    print(buf.getvalue(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
