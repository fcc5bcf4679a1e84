"""Training-loader throughput: 300 x 161 crops per second per worker, from compressed and
uncompressed egs arks (600-frame egs, as the paper's).

    python bench/loader.py [--egs 1024] [--batch 128] [--workers 0]

Writes temporary egs of spectrogram-like random features, then times EgsDataset + CropBatchSampler
(crop fixed at 300 frames) through a DataLoader with --workers workers (0 = in the main process,
i.e. one worker). Goal: >= 1000 chunks/s per worker. For comparison it also times a plain
kaldiio.load_mat loop over the same egs (the floor any loader pays).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import kaldiio
import numpy as np
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from datasets.ark_io import AtomicArkWriter  # noqa: E402
from datasets.kaldi_files import format_table, read_dict  # noqa: E402
from core.atomic import atomic_write_text
from datasets.loader import CropBatchSampler, EgsDataset, collate  # noqa: E402


def write_egs(d: Path, n: int, compress: bool) -> None:
    rng = np.random.default_rng(0)
    with AtomicArkWriter(d / "feats", compress=compress) as w:
        for i in range(n):
            w[f"spk{i // 16:03d}-eg{i:06d}"] = (rng.standard_normal((600, 161)) * 2 + 5).astype(np.float32)
    atomic_write_text(d / "utt2label", format_table((k, str(int(k[3:6]))) for k in read_dict(d / "feats.scp")))


def time_loader(d: Path, batch: int, workers: int) -> tuple[float, int]:
    ds = EgsDataset(d)
    sampler = CropBatchSampler(len(ds), batch, 300, 300, seed=0)
    loader = DataLoader(ds, batch_sampler=sampler, collate_fn=collate, num_workers=workers)
    t, n = time.perf_counter(), 0
    for x, _ in loader:
        n += x.shape[0]
    return time.perf_counter() - t, n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--egs", type=int, default=1024)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--workers", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(1)
    per = max(a.workers, 1)
    print(f"{a.egs} egs of 600 x 161, crops 300 x 161, batch {a.batch}, {a.workers} DataLoader workers")
    with tempfile.TemporaryDirectory() as tmp:
        for compress in (True, False):
            d = Path(tmp) / ("cmp" if compress else "raw")
            d.mkdir()
            write_egs(d, a.egs, compress)
            time_loader(d, a.batch, a.workers)  # warm the page cache
            secs, n = time_loader(d, a.batch, a.workers)
            fds: dict = {}
            t = time.perf_counter()
            for spec in read_dict(d / "feats.scp").values():
                kaldiio.load_mat(spec, fd_dict=fds)
            raw = time.perf_counter() - t
            size = os.path.getsize(d / "feats.ark") / a.egs / 1024
            print(f"{'compressed' if compress else 'uncompressed':<13} ({size:.0f} KiB/eg): "
                  f"{n / secs / per:,.0f} chunks/s per worker; bare kaldiio.load_mat {a.egs / raw:,.0f} mats/s "
                  f"(loader / bare = {(n / secs) / (a.egs / raw):.2f})")


if __name__ == "__main__":
    main()
