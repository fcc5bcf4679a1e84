"""bench/train.py --demo: the demo teacher trained as the recipe trains it, once per allocator setting,
each in a fresh process, side by side (speed, peak memory, and the same results)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from bench.memory import ROOT, check_modes, recipe_env, run_peak


def demo_egs(data: Path) -> Path:
    egs = data / "egs" / "spect"
    if not (egs / "train" / "feats.scp").exists():
        print(f"bench: no demo egs in {egs}: ./run.sh --stop-stage 2 --data {data}", flush=True)
        subprocess.run(["./run.sh", "--stop-stage", "2", "--data", str(data)], cwd=ROOT, check=True)
    return egs


def train_once(mode: str, exp: Path, egs: Path, data: Path, epochs: int) -> dict:
    """One steps.train run; its peaks, wall time and what its train.log says."""
    prefix, env = recipe_env(mode)
    args = [sys.executable, "-m", "steps.train", "--config", "conf/demo_rescnn.yaml", "--egs-dir", str(egs)]
    args += ["--exp-dir", str(exp), "--set", f"train.epochs={epochs}", "--device", "cpu", "--num-workers", "0"]
    args += ["--test-dir", str(data / "train" / "trials_dir"), "--test-dir", str(data / "test")]
    with open(exp.parent / f"{exp.name}.out", "w+") as out:
        r = run_peak(prefix + "exec " + shlex.join(args), env=env, stdout=out)
        out.seek(0)
        if r["rc"]:
            raise SystemExit(f"bench: training with GFA_MALLOC={mode} failed:\n{out.read()[-3000:]}")
    log = (exp / "log" / "train.log").read_text()
    batches = int(re.search(r"(\d+) batches/epoch", log).group(1))
    batch = yaml.safe_load((exp / "config.yaml").read_text())["train"]["batch_size"]
    seconds = [float(s) for s in re.findall(r" seconds ([\d.]+)", log)]
    return {
        **r,
        "allocator": re.search(r"allocator (.+)$", log, re.M).group(1),
        "samples_s": epochs * batches * batch / sum(seconds),
        "train_loss": re.findall(r"train_loss ([\d.]+)", log)[-1],
        "test_eer": (re.findall(r"test_eer ([\d.]+%)", log) or ["-"])[-1],
    }


def demo(a) -> None:
    modes = check_modes(a.mallocs.split(","))
    data = (ROOT / a.data).resolve()
    egs = demo_egs(data)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in modes:
            print(f"bench: training the demo teacher, {a.epochs} epochs, GFA_MALLOC={mode} ...", flush=True)
            rows[mode] = train_once(mode, Path(tmp) / f"demo_{mode}", egs, data, a.epochs)
            r = rows[mode]
            print(
                f"  {r['allocator']}: {r['samples_s']:.1f} samples/s, wall {r['wall']:.0f} s, largest RSS "
                f"{r['max_rss_gb']:.2f} GB, tree PSS {r['tree_gb']:.2f} GB",
                flush=True,
            )
    base = next(iter(rows.values()))
    print(f"\ndemo teacher (conf/demo_rescnn.yaml), {a.epochs} epochs with its test evaluations; ratios to the first row")
    print(
        "| GFA_MALLOC | allocator | samples/s | speed | wall s | peak RSS GB | memory | tree PSS GB "
        "| final train loss | test EER |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for mode, r in rows.items():
        print(
            f"| {mode} | {r['allocator']} | {r['samples_s']:.1f} | {r['samples_s'] / base['samples_s']:.3f}x "
            f"| {r['wall']:.0f} | {r['max_rss_gb']:.2f} | {r['max_rss_gb'] / base['max_rss_gb']:.2f}x "
            f"| {r['tree_gb']:.2f} | {r['train_loss']} | {r['test_eer']} |"
        )
