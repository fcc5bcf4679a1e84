"""Training throughput on CPU: ResCNN-32 fed by the real egs loader against the model alone on
tensors already in memory (the data-pipeline overhead; goal <= 10 %).

    python bench/train.py [--batch 32] [--steps 6] [--workers 0] [--malloc tuned|default|both]

Each run also prints the process's peak RSS (ru_maxrss). --malloc both runs the bench in two fresh
processes, glibc's defaults and the tuned settings of our entry points, and prints both rows with the
ratios of speed and peak memory.

Both runs do the same forward + AAM loss + backward + SGD step on batch x L x 161 inputs, L drawn per
batch in 200..400 by the same sampler (so both see identical shapes).
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.loader import write_egs  # noqa: E402
from datasets.loader import CropBatchSampler, EgsDataset, collate  # noqa: E402
from losses import build_loss  # noqa: E402
from models.registry import build_model  # noqa: E402
from training.trainer import Net  # noqa: E402
from steps.runtime import tune_allocator  # noqa: E402


def step(net, opt, x, y) -> None:
    loss, _ = net(x, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--malloc", default="tuned", choices=["tuned", "default", "both"],
                   help="tuned: the allocator settings of our entry points (steps/runtime.py); default: glibc's; "
                        "both: each in a fresh process, side by side")
    a = p.parse_args()
    if a.malloc == "both":
        return compare_malloc(sys.argv[1:])
    if a.malloc == "tuned" and not tune_allocator():
        raise SystemExit("bench: could not apply the allocator settings (not glibc?)")
    torch.manual_seed(0)
    model = build_model({"name": "ResCNN", "channels": [32, 64, 128], "dropout": 0.125}, 161)
    net = Net(model, build_loss({"name": "AAMSoftmax"}, 256, 64))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    with tempfile.TemporaryDirectory() as tmp:
        write_egs(Path(tmp), a.batch * (a.steps + 1), compress=True)
        ds = EgsDataset(tmp)
        sampler = CropBatchSampler(len(ds), a.batch, 200, 400, seed=0)
        loader = DataLoader(ds, batch_sampler=sampler, collate_fn=collate, num_workers=a.workers)
        batches = list(loader)  # shapes and data for the model-only run
        step(net, opt, *batches[0])  # warm-up
        t = time.perf_counter()
        n = 0
        for i, (x, y) in enumerate(loader):
            if i == 0:
                continue
            step(net, opt, x, y)
            n += len(y)
        with_loader = time.perf_counter() - t
        t = time.perf_counter()
        for x, y in batches[1:]:
            step(net, opt, x, y)
        alone = time.perf_counter() - t
    print(f"ResCNN-32, batch {a.batch}, crops 200-400 x 161, {a.steps} steps, {a.workers} loader workers, "
          f"{torch.get_num_threads()} threads, {a.malloc} malloc")
    print(f"with the egs loader: {n / with_loader:.1f} samples/s; model alone: {n / alone:.1f} samples/s; "
          f"pipeline overhead {100 * (with_loader / alone - 1):+.1f}% (goal <= 10%)")
    print(f"RESULT {a.malloc} {n / alone:.3f} samples/s, peak RSS {peak_rss_gb():.2f} GB")


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB


def compare_malloc(argv: list[str]) -> None:
    """The bench in a fresh process per allocator setting; rows and the tuned/default ratios."""
    rows = {}
    for kind in ("default", "tuned"):
        args = [x for x in argv if x not in ("--malloc", "both")] + ["--malloc", kind]
        out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True).stdout
        print(out, end="")
        f = next(ln for ln in out.splitlines() if ln.startswith("RESULT")).split()
        rows[kind] = (float(f[2]), float(f[6]))
    (sd, md), (st, mt) = rows["default"], rows["tuned"]
    print(f"tuned / default: speed {st / sd:.2f}x, peak RSS {mt / md:.2f}x ({mt:.2f} GB against {md:.2f} GB)")


if __name__ == "__main__":
    main()
