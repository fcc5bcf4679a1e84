"""Training-loader throughput: 300 x 161 crops per second per worker, from each way make_egs stores egs,
beside a float32 memmap reader of the same crops in the same run (the peer the loader must keep up with).
Compressed egs are timed both decoded in the worker and packed (decoded on the training device).

    python bench/loader.py [--egs 2048] [--batch 128] [--workers 0]

Writes temporary spectrogram-like features (Kaldi-compressed, 600-1,000 frames per utterance) and
600-frame egs cut from them three ways: ``kaldi_ref`` (row ranges of the feature ark: the recipe's
default), ``kaldi_cmp`` (self-contained compressed egs) and ``kaldi`` (uncompressed). Then it times
EgsDataset + CropBatchSampler (crop fixed at 300 frames) through a DataLoader with --workers workers
(0 = in the main process, i.e. one worker), and a reader of the same crops from one float32 memmap of
all egs through the same sampler and DataLoader. Goal (issue 28): the loader >= 0.5x the memmap reader.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core.atomic import atomic_write_text  # noqa: E402
from datasets.ark_io import AtomicArkWriter  # noqa: E402
from datasets.ark_read import read_rows  # noqa: E402
from datasets.kaldi_files import format_table, read_dict  # noqa: E402
from datasets.loader import CropBatchSampler, EgsDataset, PackedBatch, collate  # noqa: E402

EG, CROP, DIM = 600, 300, 161


class MemmapCrops(Dataset):
    """The peer: the same (index, crop, seed) items read from a float32 (egs, 600, 161) memmap."""

    def __init__(self, path: Path, n: int, labels: np.ndarray):
        self.path, self.n, self.labels, self.mm = path, n, labels, None

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, item):
        index, crop, seed = item
        if self.mm is None:  # opened per process
            self.mm = np.memmap(self.path, dtype=np.float32, mode="r", shape=(self.n, EG, DIM))
        start = seed % (EG - crop + 1)
        return torch.from_numpy(np.array(self.mm[index, start : start + crop])), int(self.labels[index])


def write_features(d: Path, n_utts: int) -> dict[str, str]:
    rng = np.random.default_rng(0)
    with AtomicArkWriter(d / "feats", compress=True) as w:
        for i in range(n_utts):
            frames = int(rng.integers(EG, 1001))
            w[f"utt{i:06d}"] = (rng.standard_normal((frames, DIM)) * 2 + 5).astype(np.float32)
    return read_dict(d / "feats.scp")


def write_egs(d: Path, feats: dict[str, str], n: int, fmt: str) -> None:
    """n egs of 600 frames from the features, stored as ``fmt``, with labels; the memmap peer file too."""
    rng, fds, utts = np.random.default_rng(1), {}, sorted(feats)
    d.mkdir()
    mm = np.memmap(d / "peer.f32", dtype=np.float32, mode="w+", shape=(n, EG, DIM)) if fmt == "kaldi" else None
    with AtomicArkWriter(d / "feats", compress=fmt == "kaldi_cmp") as w:
        for i in range(n):
            spec = feats[utts[i % len(utts)]]
            start = int(rng.integers(0, 1001 - EG))
            key = f"spk{i // 16:03d}-eg{i:06d}"
            mat = read_rows(spec, fds, start, start + EG)  # (600, freq)
            if len(mat) < EG:
                start, mat = 0, read_rows(spec, fds, 0, EG)
            if fmt == "kaldi_ref":
                w.put_reference(key, f"{spec}[{start}:{start + EG - 1}]")
            else:
                w[key] = mat
            if mm is not None:
                mm[i] = mat
    if mm is not None:
        mm.flush()
    atomic_write_text(d / "utt2label", format_table((k, str(int(k[3:6]))) for k in read_dict(d / "feats.scp")))


def crops_per_s(ds, batch: int, workers: int) -> tuple[float, float]:
    """(crops/s per worker through the DataLoader, seconds per crop to decode packed batches on this CPU)."""
    sampler = CropBatchSampler(len(ds), batch, CROP, CROP, seed=0)
    loader = DataLoader(ds, batch_sampler=sampler, collate_fn=collate, num_workers=workers)
    for _ in loader:  # warm: page cache, worker start
        break
    t, n, batches = time.perf_counter(), 0, []
    for x, _ in loader:
        n += len(x)
        if isinstance(x, PackedBatch):  # kept (small) to time their decode below
            batches.append(x)
    rate = n / (time.perf_counter() - t) / max(workers, 1)
    t = time.perf_counter()
    for x in batches:
        x.to("cpu")
    return rate, (time.perf_counter() - t) / n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--egs", type=int, default=2048)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--workers", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(1)
    print(
        f"{a.egs} egs of {EG} x {DIM}, crops {CROP} x {DIM}, batch {a.batch}, {a.workers} DataLoader workers "
        f"(0: the main process)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        feats = write_features(Path(tmp), max(a.egs // 4, 1))
        rates = {}
        for fmt in ("kaldi", "kaldi_cmp", "kaldi_ref"):
            write_egs(Path(tmp) / fmt, feats, a.egs, fmt)
        peer = MemmapCrops(Path(tmp) / "kaldi" / "peer.f32", a.egs, EgsDataset(Path(tmp) / "kaldi").labels)
        readers = {
            "memmap": peer,
            "kaldi": EgsDataset(Path(tmp) / "kaldi"),
            "kaldi_cmp": EgsDataset(Path(tmp) / "kaldi_cmp"),
            "kaldi_ref": EgsDataset(Path(tmp) / "kaldi_ref"),
            "kaldi_ref packed": EgsDataset(Path(tmp) / "kaldi_ref", packed=True),
            "kaldi_cmp packed": EgsDataset(Path(tmp) / "kaldi_cmp", packed=True),
        }
        for _ in range(3):  # three rounds, interleaved: load drifts hit every reader alike
            for name, ds in readers.items():
                rates.setdefault(name, []).append(crops_per_s(ds, a.batch, a.workers))
        peer_rate = max(r for r, _ in rates["memmap"])
        for name, r in rates.items():
            fmt = name.split()[0]
            size = os.path.getsize(Path(tmp) / ("kaldi/peer.f32" if fmt == "memmap" else f"{fmt}/feats.ark")) / a.egs
            decode = min(d for _, d in r)
            print(
                f"{name:<17} {max(x for x, _ in r):>8,.0f} crops/s per worker  ({size / 1024:5.1f} KiB stored per eg)  "
                f"loader / memmap = {max(x for x, _ in r) / peer_rate:.2f}"
                + (
                    f"  (then decoded on the device: here, this CPU, {1e6 * decode:.0f} us per crop in batches)"
                    if "packed" in name
                    else ""
                )
            )
        print(
            "packed: the worker ships compressed bytes and quantiles (PackedBatch); .to(device) decodes them "
            "there, as steps/train.py does"
        )


if __name__ == "__main__":
    main()
