"""Integrated Gradients throughput (utterances/s; 300 frames, 50 Gauss-Legendre steps) of our
implementation against Captum's IntegratedGradients in the same run, with the max difference.

    python bench/saliency.py [--device cpu|cuda] [--utts 2] [--internal-batch 50]
                             [--models rescnn64,ecapa512] [--no-compile] [--malloc auto]

Both get the same eval-mode model, inputs, zero baseline, target (true-class cosine) and internal
batch size, in float32, after a one-utterance warm-up each. On the CPU every configuration runs twice, in
two fresh worker processes: one with glibc's default malloc settings (how a script calling Captum
runs) and one with the allocator our entry points run with (core/allocator.py: tcmalloc
preloaded by path.sh when installed, else glibc "bounded"). Ratios are printed against Captum in the default process ("as each is run") and
against Captum in the same process ("like for like"), so the source of any speed-up is visible. The
opt-in torch.compile mode (cam_extract --compile) is timed after its one-off compile.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from gradients.methods import saliency_maps  # noqa: E402
from gradients.targets import CosineOutputs, make_target  # noqa: E402
from losses import build_loss  # noqa: E402
from models.registry import build_model  # noqa: E402

MODELS = {
    "rescnn64": ({"name": "ResCNN", "channels": [64, 128, 256]}, 161),
    "ecapa512": ({"name": "ECAPA_TDNN", "channels": 512}, 80),
}


def timed(f, device: str):
    if device == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    out = f()
    if device == "cuda":
        torch.cuda.synchronize()
    return out, time.perf_counter() - t


def measure(name: str, a) -> dict:
    """Seconds for Captum, ours (and ours compiled) on one model, and the max differences."""
    from captum.attr import IntegratedGradients

    cfg, dim = MODELS[name]
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False  # float32 on GPUs too
    torch.manual_seed(0)
    model = build_model(cfg, dim).eval().to(a.device)
    head = build_loss({"name": "AAMSoftmax"}, model.emb_dim, 1211).eval().to(a.device)
    x = (torch.randn(a.utts, 300, dim) * 3 + 5).to(a.device)
    y = torch.arange(a.utts, device=a.device)
    captum_ig = IntegratedGradients(CosineOutputs(model, head))

    def ours(m, inputs, steps=50):
        fn = make_target("cosine", m, head, y[: len(inputs)])
        return saliency_maps("integrated_gradients", m, inputs, fn, {"steps": steps, "internal_batch_size": a.internal_batch})

    def captum(inputs, steps=50):
        return captum_ig.attribute(
            inputs,
            baselines=torch.zeros_like(inputs),
            target=y[: len(inputs)],
            n_steps=steps,
            method="gausslegendre",
            internal_batch_size=a.internal_batch,
        )

    # warm-up at full chunk size: thread pools, kernel selection, and the heap grown to its working size
    ours(model, x[:1]), captum(x[:1])
    ref, t_cap = timed(lambda: captum(x), a.device)
    mine, t_ours = timed(lambda: ours(model, x), a.device)
    scale = ref.abs().max().item()
    res = {"captum": t_cap, "ours": t_ours, "diff_ours": (mine - ref).abs().max().item() / scale}
    if a.compile:
        compiled = torch.compile(model)
        _, res["compile_once"] = timed(lambda: ours(compiled, x), a.device)  # compiles for every chunk shape
        comp, res["compiled"] = timed(lambda: ours(compiled, x), a.device)
        res["diff_compiled"] = (comp - ref).abs().max().item() / scale
    return res


def worker(a) -> None:
    from core.allocator import tune_allocator

    allocator = tune_allocator()  # GFA_MALLOC=default for "default": glibc untouched
    print(json.dumps({"allocator": allocator, **{name: measure(name, a) for name in a.models.split(",")}}))


def spawn(kind: str, a) -> dict:
    """The bench in a fresh process started as the recipe starts one (path.sh), with glibc's default
    malloc ("default") or our entry points' allocator ("tuned": GFA_MALLOC=--malloc, default auto)."""
    from bench.memory import recipe_env

    prefix, env = recipe_env("default" if kind == "default" else a.malloc)
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        kind,
        "--device",
        a.device,
        "--utts",
        str(a.utts),
        "--internal-batch",
        str(a.internal_batch),
        "--models",
        a.models,
    ] + ([] if a.compile else ["--no-compile"])
    p = subprocess.run(
        prefix + "exec " + shlex.join(cmd), shell=True, executable="/bin/bash", env=env, capture_output=True, text=True
    )
    if p.returncode:
        raise SystemExit(f"bench worker ({kind}) failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def report(name: str, runs: dict, a) -> None:
    base = runs["default"][name]["captum"] if "default" in runs else runs["same"][name]["captum"]
    print(f"\n{name}: {'':48s} {'utt/s':>7s} {'vs Captum as run':>17s} {'like for like':>14s} {'max|diff|':>10s}")
    for kind, r in runs.items():
        m = r[name]
        where = {"default": "default malloc", "tuned": r.get("allocator", ""), "same": a.device}[kind]
        rows = [("Captum", m["captum"], None), ("ours", m["ours"], m["diff_ours"])]
        if "compiled" in m:
            rows.append((f"ours + compile (1st run {m['compile_once']:.0f} s)", m["compiled"], m["diff_compiled"]))
        for label, t, diff in rows:
            d = f"{diff:10.1e}" if diff is not None else " " * 10
            print(f"  {label + ', ' + where:48s} {a.utts / t:7.3f} {base / t:16.2f}x {m['captum'] / t:13.2f}x {d}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--utts", type=int, default=2)
    p.add_argument("--internal-batch", type=int, default=50)
    p.add_argument("--models", default="rescnn64,ecapa512")
    p.add_argument("--no-compile", dest="compile", action="store_false")
    p.add_argument("--malloc", default="auto", help="GFA_MALLOC of the second process (core/allocator.py)")
    p.add_argument("--worker", choices=["default", "tuned"], help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        return worker(a)
    dev = torch.cuda.get_device_name() if a.device == "cuda" else f"{torch.get_num_threads()} CPU threads"
    print(
        f"IG, 300 frames, 50 steps, {a.utts} utterances, internal batch {a.internal_batch}, {dev}, "
        f"torch {torch.__version__}; max|diff| is relative to max|Captum attribution|"
    )
    if a.device == "cuda":
        runs = {"same": {name: measure(name, a) for name in a.models.split(",")}}
    else:
        runs = {kind: spawn(kind, a) for kind in ("default", "tuned")}
    for name in a.models.split(","):
        report(name, runs, a)
    if a.device == "cpu":
        print(
            "\nThe second allocator is how steps/*.py run (core/allocator.py); 'as run' compares with Captum called "
            "from a plain script, 'like for like' with Captum in the same process."
        )


if __name__ == "__main__":
    main()
