"""Integrated Gradients of one long utterance: the peak memory is set by --internal-batch-size, not by
the utterance's length, and the maps do not depend on it.

    python bench/saliency_long.py [--minutes 10] [--sizes 8,32] [--steps 8] [--chunk-frames 1200]
                                  [--model rescnn64] [--malloc auto]

One utterance of --minutes of spectrogram-like frames goes through ``long_utterance_map`` (what
gradients/cam_extract.py runs per utterance: equal chunks of at most --chunk-frames, one virtual batch
of (chunk, IG step) rows, --internal-batch-size rows per backward pass) with the teacher's cosine
target, in a fresh process per internal batch size, started as the recipe starts it (path.sh,
GFA_MALLOC=--malloc). Prints each run's seconds and peak RSS, the rows per pass, and the largest
difference between the maps of the two sizes relative to the largest attribution. --steps is below
cam_extract's 50 to keep the bench short: the rows per pass, hence the peak, do not depend on it.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.memory import recipe_env, run_peak  # noqa: E402
from bench.saliency import MODELS  # noqa: E402


def worker(a) -> None:
    """One extraction; writes the map to --out and prints its seconds."""
    from gradients.methods import long_utterance_map
    from gradients.targets import make_target
    from losses import build_loss
    from models.registry import build_model
    from core.allocator import tune_allocator

    allocator = tune_allocator()
    cfg, dim = MODELS[a.model]
    torch.manual_seed(0)
    model = build_model(cfg, dim).eval()
    head = build_loss({"name": "AAMSoftmax"}, model.emb_dim, 1211).eval()
    frames = int(a.minutes * 60 * 100)  # 10 ms frames
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((frames, dim), dtype=np.float32) * 3 + 5)
    fn_for = lambda n: make_target("cosine", model, head, torch.zeros(n, dtype=torch.long))  # noqa: E731
    opts = {"steps": a.steps, "internal_batch_size": a.size}
    t = time.perf_counter()
    m = long_utterance_map("integrated_gradients", model, x, fn_for, a.chunk_frames, opts)
    np.save(a.out, m.numpy())
    print(f"RESULT {time.perf_counter() - t:.1f} {allocator}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--sizes", default="8,32", help="internal batch sizes, one fresh process each")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--chunk-frames", type=int, default=1200)
    p.add_argument("--model", default="rescnn64", choices=list(MODELS))
    p.add_argument("--malloc", default="auto", help="GFA_MALLOC of the runs (core/allocator.py)")
    p.add_argument("--size", type=int, help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    return p


def one_size(a, size: int, out: Path, prefix: str, env: dict) -> np.ndarray:
    """The map of one internal batch size, computed in a fresh process; prints its time and peak RSS."""
    argv = [sys.executable, __file__, "--size", str(size), "--out", str(out), "--minutes", str(a.minutes)]
    argv += ["--steps", str(a.steps), "--chunk-frames", str(a.chunk_frames), "--model", a.model]
    with tempfile.TemporaryFile("w+") as log:
        r = run_peak(prefix + "exec " + shlex.join(argv), env=env, stdout=log)
        log.seek(0)
        text = log.read()
    if r["rc"]:
        raise SystemExit(f"bench: internal batch {size} failed:\n{text[-3000:]}")
    secs, allocator = text.split("RESULT ")[-1].split(maxsplit=1)
    print(
        f"internal batch {size:4d} rows ({size * a.chunk_frames} frames per pass): {float(secs):.0f} s, "
        f"peak RSS {r['max_rss_gb']:.2f} GB ({allocator.strip()})",
        flush=True,
    )
    return np.load(out)


def main() -> None:
    a = build_parser().parse_args()
    if a.size:
        return worker(a)
    frames = int(a.minutes * 6000)
    chunks = -(-frames // a.chunk_frames)
    print(
        f"IG of one {a.minutes:g}-minute utterance ({frames} frames), {a.model}, {chunks} chunks of <= "
        f"{a.chunk_frames} frames x {a.steps} steps = {chunks * a.steps} rows, GFA_MALLOC={a.malloc}, "
        f"{torch.get_num_threads()} threads",
        flush=True,
    )
    prefix, env = recipe_env(a.malloc)
    with tempfile.TemporaryDirectory() as tmp:
        maps = {
            size: one_size(a, size, Path(tmp) / f"map_{size}.npy", prefix, env) for size in [int(s) for s in a.sizes.split(",")]
        }
    first = next(iter(maps))
    for size, m in maps.items():
        diff = np.abs(m - maps[first]).max() / np.abs(maps[first]).max()
        print(f"max |map({size}) - map({first})| / max |map|: {diff:.1e}")


if __name__ == "__main__":
    main()
