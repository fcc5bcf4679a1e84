"""Peak memory and time of every stage of ./run.sh, once per allocator setting, side by side.

    python bench/recipe.py [--mallocs auto,heap] [--stages 0-6] [--nj 2] [--keep DIR]

Each setting runs the whole recipe stage by stage (./run.sh --stage N --stop-stage N, as a user runs
it, path.sh included) into its own fresh data root and exp dirs under a temporary directory (or
--keep DIR). Per stage: wall seconds, the largest resident set of any one process (wait4's
ru_maxrss) and the peak of the summed proportional set size of all the stage's processes at once
(sampled every 0.25 s; parallel jobs add up). "heap" is the setting the entry points used before
bounded memory; "auto" is today's default (tcmalloc preloaded by path.sh when installed, else
glibc bounded).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.memory import check_modes, recipe_env, run_peak  # noqa: E402


def stages(spec: str) -> list[int]:
    lo, _, hi = spec.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def run_recipe(mode: str, root: Path, todo: list[int], nj: int) -> dict[int, dict]:
    """Every stage of run.sh for one GFA_MALLOC setting, into ``root``."""
    prefix, env = recipe_env(mode)
    opts = [
        "--data",
        str(root / "data"),
        "--exp-dir",
        str(root / "exp" / "demo_rescnn"),
        "--nj",
        str(nj),
        "--table",
        str(root / "exp" / "prior_table"),
    ]
    out = {}
    with open(root / "run.log", "a") as log:
        for n in todo:
            cmd = prefix + shlex.join(["./run.sh", "--stage", str(n), "--stop-stage", str(n), *opts])
            r = run_peak(cmd, env=env, stdout=log)
            if r["rc"]:
                raise SystemExit(f"bench: run.sh stage {n} failed with GFA_MALLOC={mode}; see {root / 'run.log'}")
            out[n] = r
            print(
                f"  GFA_MALLOC={mode} stage {n}: {r['wall']:.0f} s, largest process {r['max_rss_gb']:.2f} GB, "
                f"all processes {r['tree_gb']:.2f} GB",
                flush=True,
            )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mallocs", default="auto,heap", help="GFA_MALLOC settings, in run order")
    p.add_argument("--stages", default="0-6")
    p.add_argument("--nj", type=int, default=2)
    p.add_argument("--keep", default="", help="run into this directory and keep it (default: a temporary one)")
    a = p.parse_args()
    todo, modes = stages(a.stages), check_modes(a.mallocs.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(a.keep or tmp).resolve()
        rows = {}
        for mode in modes:
            (base / mode).mkdir(parents=True, exist_ok=True)
            rows[mode] = run_recipe(mode, base / mode, todo, a.nj)
    print("\n./run.sh stage by stage; per setting: seconds / largest process GB / all processes GB")
    print("| stage | " + " | ".join(modes) + " |")
    print("|---|" + "---|" * len(modes))
    for n in todo:
        print(
            f"| {n} | "
            + " | ".join(
                f"{rows[m][n]['wall']:.0f} s / {rows[m][n]['max_rss_gb']:.2f} / {rows[m][n]['tree_gb']:.2f}" for m in modes
            )
            + " |"
        )
    print(
        "| all | "
        + " | ".join(
            f"{sum(r['wall'] for r in rows[m].values()):.0f} s / "
            f"{max(r['max_rss_gb'] for r in rows[m].values()):.2f} / "
            f"{max(r['tree_gb'] for r in rows[m].values()):.2f}"
            for m in modes
        )
        + " |"
    )


if __name__ == "__main__":
    main()
