"""Training speed and memory on CPU, three benches (each compares with a baseline in the same run).

    python bench/train.py [--batch 32] [--steps 6] [--workers 0] [--malloc auto|tcmalloc|jemalloc|bounded|heap|default|all]
    python bench/train.py --demo [--epochs 8] [--mallocs heap,auto,bounded] [--data data/synth]
    python bench/train.py --compile [--steps 50] [--speed-steps 24] [--batch 64]

Default: ResCNN-32 fed by the real egs loader against the model alone on tensors already in memory
(the data-pipeline overhead; goal <= 10 %), forward + AAM loss + backward + SGD on batch x L x 161
inputs, L drawn per batch in 200..400 by the same sampler for both. --malloc all runs it once per
allocator setting (GFA_MALLOC, core/allocator.py; tcmalloc/jemalloc where installed), each in a fresh
process started as the recipe starts it (path.sh: tcmalloc preloaded when installed, for "auto").

--demo: the demo teacher as ./run.sh trains it (conf/demo_rescnn.yaml, 8 epochs, validation and the
test-trials evaluations every 4 epochs) once per allocator setting in fresh processes, side by side:
samples/s over the epochs' training + validation time, wall time, and peak memory (the largest RSS,
and the process tree's peak PSS). "heap" is the setting the entry points used before bounded memory.
Needs the demo egs: ./run.sh --stop-stage 2 (run here when missing).

--compile: eager against torch.compile and channels_last training (train.compile, train.channels_last)
from the same initial weights on the same batches: samples/s after each shape's first (compiling)
step, the ratio to eager, and the largest per-step loss difference over --steps steps (bench/train_compile.py).
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.loader import write_egs  # noqa: E402
from bench.memory import installed, recipe_env, run_peak  # noqa: E402
from datasets.loader import CropBatchSampler, EgsDataset, collate  # noqa: E402
from losses import build_loss  # noqa: E402
from models.registry import build_model  # noqa: E402
from training.trainer import Net  # noqa: E402
from core.allocator import MODES as MALLOCS, tune_allocator  # noqa: E402


def step(net, opt, x, y) -> float:
    loss, _ = net(x, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def rescnn32(seed: int = 0) -> Net:
    torch.manual_seed(seed)
    model = build_model({"name": "ResCNN", "channels": [32, 64, 128], "dropout": 0.125}, 161)
    return Net(model, build_loss({"name": "AAMSoftmax"}, 256, 64))


def micro(a) -> None:
    allocator = tune_allocator()
    net = rescnn32()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    with tempfile.TemporaryDirectory() as tmp:
        write_egs(Path(tmp), a.batch * (a.steps + 1), compress=True)
        ds = EgsDataset(tmp)
        sampler = CropBatchSampler(len(ds), a.batch, 200, 400, seed=0)
        loader = DataLoader(ds, batch_sampler=sampler, collate_fn=collate, num_workers=a.workers)
        batches = list(loader)  # shapes and data for the model-only run
        step(net, opt, *batches[0])  # warm-up
        t, n = time.perf_counter(), 0
        for i, (x, y) in enumerate(loader):
            if i:
                step(net, opt, x, y)
                n += len(y)
        with_loader = time.perf_counter() - t
        t = time.perf_counter()
        for x, y in batches[1:]:
            step(net, opt, x, y)
        alone = time.perf_counter() - t
    print(
        f"ResCNN-32, batch {a.batch}, crops 200-400 x 161, {a.steps} steps, {a.workers} loader workers, "
        f"{torch.get_num_threads()} threads, allocator {allocator}"
    )
    print(
        f"with the egs loader: {n / with_loader:.1f} samples/s; model alone: {n / alone:.1f} samples/s; "
        f"pipeline overhead {100 * (with_loader / alone - 1):+.1f}% (goal <= 10%)"
    )
    print(
        f"RESULT {n / alone:.3f} samples/s, peak RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB, allocator {allocator}"
    )


def compare_micro(a) -> None:
    """The default bench in a fresh process per allocator setting; rows and ratios to "heap"."""
    rows = {}
    for mode in [m for m in MALLOCS if installed(m)]:
        prefix, env = recipe_env(mode)
        argv = " ".join(
            shlex.quote(x)
            for x in [
                sys.executable,
                __file__,
                "--batch",
                str(a.batch),
                "--steps",
                str(a.steps),
                "--workers",
                str(a.workers),
                "--malloc",
                mode,
            ]
        )
        with tempfile.TemporaryFile("w+") as out:
            r = run_peak(prefix + "exec " + argv, env=env, stdout=out)
            out.seek(0)
            text = out.read()
        if r["rc"]:
            raise SystemExit(f"bench ({mode}) failed:\n{text[-3000:]}")
        f = next(ln for ln in text.splitlines() if ln.startswith("RESULT")).split()
        rows[mode] = (float(f[1]), r["max_rss_gb"], text.split("allocator ")[-1].strip())
    print(f"{'GFA_MALLOC':12s} {'allocator':16s} {'samples/s':>10s} {'peak RSS GB':>12s}  (ratios to heap)")
    sh, mh, _ = rows["heap"]
    for mode, (s, m, alloc) in rows.items():
        print(f"{mode:12s} {alloc:16s} {s:10.1f} {m:12.2f}  speed {s / sh:.2f}x, memory {m / mh:.2f}x")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=None, help="default 32 (64 with --compile, the demo's)")
    p.add_argument("--steps", type=int, default=None, help="default 6 (50 with --compile)")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument(
        "--malloc",
        default="auto",
        choices=[*MALLOCS, "all"],
        help="GFA_MALLOC of this process, or all: each in a fresh process, side by side",
    )
    p.add_argument("--demo", action="store_true", help="train the demo teacher once per --mallocs setting")
    p.add_argument("--epochs", type=int, default=8, help="--demo: epochs (the recipe's 8)")
    p.add_argument("--mallocs", default="heap,auto,bounded", help="--demo: GFA_MALLOC settings, in run order")
    p.add_argument("--data", default="data/synth", help="--demo: data root with the demo egs")
    p.add_argument("--compile", action="store_true", help="eager vs torch.compile vs channels_last training")
    p.add_argument("--speed-steps", type=int, default=24, help="--compile: steps of the speed run")
    a = p.parse_args()
    if a.demo:
        from bench.train_demo import demo

        return demo(a)
    if a.compile:
        a.batch = a.batch or 64
        from bench.train_compile import compare_compiled

        return compare_compiled(a)
    a.steps, a.batch = a.steps or 6, a.batch or 32
    if a.malloc == "all":
        return compare_micro(a)
    os.environ["GFA_MALLOC"] = a.malloc
    micro(a)


if __name__ == "__main__":
    main()
