"""Seed spread of a config, and a plain reference trained for the same wall time in the same run.

    python -m bench.seeds --config conf/demo_rescnn.yaml --egs-dir data/synth/egs/spect \\
        --test-dir data/synth/test --seeds 1 2 3 4 5 [--out exp/seeds_demo_rescnn] [--parallel 2]
        [--set train.passes=12 ...] [--ref-seeds 1 2] [--no-reference]

Each seed is one experiment <out>/s<seed> (steps.train with --set train.seed=<seed>, then
steps.extract_embeddings and steps.score on <test-dir>/trials); a seed whose scores exist is reused,
so a killed bench resumes. Prints per run EER, minDCF(0.01, 0.001), steps, the convergence verdict
and the training wall time; then mean, sd, min and max. The reference (bench/reference_cnn.py) is
trained on the same egs for the median training wall time of the runs, under the same thread count
and as many side by side, and the ratio recipe EER / reference EER is printed. Everything printed is
also written to <out>/seeds.csv and <out>/summary.txt.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import reference_cnn

FIELDS = ("system", "seed", "eer", "mindcf_0.01", "mindcf_0.001", "steps", "converged", "train_seconds")


def sh(cmd: list[str], log: Path, env: dict) -> float:
    t0 = time.time()
    with open(log, "a") as f:
        p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
    if p.returncode != 0:
        raise SystemExit(f"seeds: {' '.join(cmd[:4])} failed (exit {p.returncode}); see {log}")
    return time.time() - t0


def train_and_score(a, seed: int, exp: Path, env: dict) -> None:
    """steps.train with train.seed=<seed>, then steps.extract_embeddings and steps.score on --test-dir."""
    exp.mkdir(parents=True, exist_ok=True)
    log, py = exp / "bench.log", sys.executable
    sets = [x for s in a.set for x in ("--set", s)]
    train = [py, "-m", "steps.train", "--config", a.config, "--egs-dir", a.egs_dir, "--exp-dir", str(exp)]
    secs = sh([*train, "--set", f"train.seed={seed}", *sets, "--num-workers", "0"], log, env)
    (exp / "train_seconds").write_text(f"{secs:.1f}\n")
    embed = [py, "-m", "steps.extract_embeddings", "--exp-dir", str(exp), "--data-dir", a.test_dir]
    sh([*embed, "--set-name", "test"], log, env)
    score = [py, "-m", "steps.score", "--exp-dir", str(exp), "--trials", f"{a.test_dir}/trials"]
    sh([*score, "--embeddings", "test", "--name", "trials"], log, env)


def one_seed(a, seed: int, env: dict) -> dict:
    exp = Path(a.out) / f"s{seed}"
    scores = exp / "scores" / "trials.json"
    if not scores.exists():
        train_and_score(a, seed, exp, env)
    rec, train = json.loads(scores.read_text()), json.loads((exp / "training.json").read_text())
    print(f"seeds: {exp} done", flush=True)
    metrics = {k: rec[k]["value"] for k in ("eer", "mindcf_0.01", "mindcf_0.001")}
    return {
        "system": "recipe",
        "seed": seed,
        **metrics,
        "steps": train["steps"],
        "converged": train["converged"],
        "train_seconds": float((exp / "train_seconds").read_text()),
    }


def one_reference(a, seed: int, seconds: float) -> dict:
    path = Path(a.out) / f"reference_s{seed}.json"
    if not path.exists():
        r = reference_cnn.run(a.egs_dir, a.test_dir, seconds, seed)
        path.write_text(json.dumps(r) + "\n")
    r = json.loads(path.read_text())
    return {
        "system": "reference",
        "seed": seed,
        "eer": r["eer"],
        "mindcf_0.01": r["mindcf_0.01"],
        "mindcf_0.001": r["mindcf_0.001"],
        "steps": r["steps"],
        "converged": "",
        "train_seconds": r["train_seconds"],
    }


def summary(rows: list[dict], system: str) -> str:
    rs = [r for r in rows if r["system"] == system]
    if not rs:
        return ""
    out = []
    for k in ("eer", "mindcf_0.01", "mindcf_0.001"):
        v = [100 * r[k] if k == "eer" else r[k] for r in rs]
        sd = statistics.stdev(v) if len(v) > 1 else float("nan")
        out.append(f"{k} mean {statistics.mean(v):.3f} sd {sd:.3f} min {min(v):.3f} max {max(v):.3f}")
    conv = sum(r["converged"] is True for r in rs) if system == "recipe" else None
    tail = f", converged {conv}/{len(rs)}" if conv is not None else ""
    mins = statistics.mean(r["train_seconds"] for r in rs) / 60
    return f"{system} ({len(rs)} runs, {mins:.1f} training min each{tail}): " + "; ".join(out)


def table(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(
            {
                **r,
                "eer": f"{100 * r['eer']:.3f}",
                "mindcf_0.01": f"{r['mindcf_0.01']:.4f}",
                "mindcf_0.001": f"{r['mindcf_0.001']:.4f}",
                "train_seconds": f"{r['train_seconds']:.1f}",
            }
        )
    return buf.getvalue()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True)
    p.add_argument("--egs-dir", required=True)
    p.add_argument("--test-dir", required=True, help="data dir with feats.scp and trials")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    p.add_argument("--out", default=None, help="default exp/seeds_<config stem>")
    p.add_argument("--set", action="append", default=[], metavar="A.B=C", help="passed to steps.train")
    p.add_argument("--parallel", type=int, default=1, help="runs side by side, each with cores/parallel threads")
    p.add_argument("--threads", type=int, default=0, help="threads per run (default: cores / --parallel)")
    p.add_argument("--ref-seeds", type=int, nargs="*", default=[1])
    p.add_argument("--no-reference", action="store_true")
    a = p.parse_args(argv)
    a.out = a.out or f"exp/seeds_{Path(a.config).stem}"
    Path(a.out).mkdir(parents=True, exist_ok=True)
    threads = a.threads or max(1, (os.cpu_count() or 1) // a.parallel)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    with ThreadPoolExecutor(a.parallel) as pool:
        rows = list(pool.map(lambda s: one_seed(a, s, env), a.seeds))
    if not a.no_reference and a.ref_seeds:
        seconds = statistics.median(r["train_seconds"] for r in rows)
        print(f"seeds: reference CNN for {seconds / 60:.1f} min per seed ({threads} threads)", flush=True)
        import torch

        torch.set_num_threads(threads)
        with ThreadPoolExecutor(a.parallel) as pool:
            rows += list(pool.map(lambda s: one_reference(a, s, seconds), a.ref_seeds))
    lines = [summary(rows, "recipe"), summary(rows, "reference")]
    ref = [r["eer"] for r in rows if r["system"] == "reference"]
    if ref:
        ratio = statistics.mean(r["eer"] for r in rows if r["system"] == "recipe") / statistics.mean(ref)
        lines.append(f"ratio recipe / reference mean EER at equal training minutes: {ratio:.2f}x")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    lines.append(f"command: python -m bench.seeds {' '.join(sys.argv[1:] if argv is None else argv)} (commit {commit})")
    text = table(rows) + "\n".join(x for x in lines if x) + "\n"
    (Path(a.out) / "seeds.csv").write_text(table(rows))
    (Path(a.out) / "summary.txt").write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
