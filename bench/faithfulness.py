"""Insertion / deletion throughput: (utterance, proportion) inputs classified per second by
gradients.faithfulness.utterance_curves (every proportion of an utterance built at once, classified in
batches) against a plain loop that builds and classifies one proportion at a time, in the same run.

    python bench/faithfulness.py [--utts 4] [--frames 400] [--batch-size 16] [--channels 16,32,64]

Both use the same eval-mode ResCNN (the demo teacher's size by default) with a 40-class head, the
same random point rankings, the paper's time-mean fill and the default insertion + deletion grids
(40 proportions per utterance); the two must give identical correctness, which is checked. A third
row times the original GFA workflow, one process per proportion (interpreter + torch start, model
build, one input), over --processes runs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gradients import faithfulness  # noqa: E402
from losses import build_loss  # noqa: E402
from models.registry import build_model  # noqa: E402
from core.allocator import tune_allocator  # noqa: E402


def plain_loop(classify, x, label, rank, grids, fill) -> dict:
    out = {}
    for mode, grid in grids.items():
        t1 = []
        for k in faithfulness.unit_counts(grid, rank.numel()):
            with torch.no_grad():
                t1.append(
                    faithfulness.hits(classify(faithfulness.perturbed(x, rank, torch.tensor([int(k)]), mode, fill)), label)[0][0]
                )
        out[mode] = np.array(t1)
    return out


ONE_PROCESS = """
import sys, torch
sys.path.insert(0, {root!r})
from losses import build_loss
from models.registry import build_model
model = build_model({{"name": "ResCNN", "channels": {channels}}}, 161).eval()
head = build_loss({{"name": "AAMSoftmax"}}, model.emb_dim, 40).eval()
with torch.no_grad():
    head(model(torch.randn(1, {frames}, 161)))
"""


def per_process(a, n: int) -> float:
    """Seconds per proportion when each one is its own process (the original's workflow)."""
    code = ONE_PROCESS.format(
        root=str(Path(__file__).resolve().parents[1]), frames=a.frames, channels=[int(c) for c in a.channels.split(",")]
    )
    t = time.perf_counter()
    for _ in range(n):
        subprocess.run([sys.executable, "-c", code], check=True)
    return (time.perf_counter() - t) / n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--utts", type=int, default=4)
    p.add_argument("--frames", type=int, default=400)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--channels", default="16,32,64")
    p.add_argument("--processes", type=int, default=3)
    a = p.parse_args()
    tune_allocator()
    torch.manual_seed(0)
    model = build_model({"name": "ResCNN", "channels": [int(c) for c in a.channels.split(",")]}, 161).eval()
    head = build_loss({"name": "AAMSoftmax"}, model.emb_dim, 40).eval()
    classify = lambda b: head(model(b))  # noqa: E731
    grids = {"insertion": np.asarray(faithfulness.INSERTION_GRID), "deletion": np.asarray(faithfulness.DELETION_GRID)}
    rng = np.random.default_rng(0)
    xs = [torch.randn(a.frames, 161) * 2 + 5 for _ in range(a.utts)]
    ranks = [torch.from_numpy(faithfulness.ranks(rng.random((a.frames, 161)), rng)) for _ in xs]
    n_inputs = a.utts * sum(len(g) for g in grids.values())
    plain_loop(classify, xs[0], 0, ranks[0], grids, faithfulness.fill_for("time_mean", xs[0]))  # warm-up
    t = time.perf_counter()
    loop = [
        plain_loop(classify, x, i, r, grids, faithfulness.fill_for("time_mean", x)) for i, (x, r) in enumerate(zip(xs, ranks))
    ]
    t_loop = time.perf_counter() - t
    t = time.perf_counter()
    ours = [
        faithfulness.utterance_curves(
            classify, x, i, {"r": r}, grids, {"time_mean": faithfulness.fill_for("time_mean", x)}, a.batch_size
        )
        for i, (x, r) in enumerate(zip(xs, ranks))
    ]
    t_ours = time.perf_counter() - t
    same = all(np.array_equal(o[("r", "time_mean", m)][0], lp[m]) for o, lp in zip(ours, loop) for m in grids)
    print(
        f"insdel bench: {a.utts} utterances x {n_inputs // a.utts} proportions, {a.frames} frames, ResCNN "
        f"{a.channels}, {torch.get_num_threads()} threads"
    )
    print(f"  plain loop (one proportion per forward): {n_inputs / t_loop:8.1f} inputs/s  ({t_loop:.2f} s)")
    print(f"  batched (batch {a.batch_size}):                 {n_inputs / t_ours:8.1f} inputs/s  ({t_ours:.2f} s)")
    t_proc = per_process(a, a.processes)
    print(f"  one process per proportion:              {1 / t_proc:8.1f} inputs/s  ({t_proc:.2f} s each)")
    print(
        f"  ratio batched / loop: {t_loop / t_ours:.2f}x; batched / one process each: {t_proc * n_inputs / t_ours:.0f}x; "
        f"identical correctness: {same}"
    )


if __name__ == "__main__":
    main()
