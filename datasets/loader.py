"""PyTorch data pipeline: egs with one random crop length per batch, and full-length utterances
batched by length for evaluation and saliency.

Training: :class:`CropBatchSampler` yields batches of (eg index, crop length, seed); the crop length
is drawn once per batch in [crop_min, crop_max], every example gets its own random crop start.
Everything random is derived from (seed, epoch, position), so a batch does not depend on the number
of workers, and a resumed epoch replays exactly. Shapes: an example is (time, freq); a batch
(batch, time, freq).
"""
from __future__ import annotations

import math
import os

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from datasets.ark_read import num_rows, read_rows
from datasets.kaldi_files import DataDirError, read_dict
from core.errors import UsageError


class EgsDataset(Dataset):
    """Egs of a ``make_egs`` set: ``feats.scp`` + ``utt2label``; items are (crop (time, freq), label)."""

    def __init__(self, egs_dir, num_classes: int | None = None):
        scp = read_dict(f"{egs_dir}/feats.scp")
        labels = {k: int(v) for k, v in read_dict(f"{egs_dir}/utt2label").items()}
        if set(scp) != set(labels):
            raise DataDirError(f"{egs_dir}: feats.scp and utt2label list different egs")
        if not scp:
            raise DataDirError(f"{egs_dir}/feats.scp: no egs")
        self.keys = sorted(scp)
        self.specs = [scp[k] for k in self.keys]
        self.labels = np.array([labels[k] for k in self.keys], dtype=np.int64)
        if num_classes is not None and self.labels.max() >= num_classes:
            raise DataDirError(f"{egs_dir}/utt2label: label {self.labels.max()} but the head has {num_classes} classes")
        self._fds: dict = {}
        self._pid = os.getpid()

    def __len__(self) -> int:
        return len(self.keys)

    def _open_files(self) -> dict:
        """Open ark files, per process: a forked worker must not share the parent's file offsets."""
        if self._pid != os.getpid():
            self._fds, self._pid = {}, os.getpid()
        return self._fds

    def __getitem__(self, item):
        """(index, crop length or 0 for all frames, seed) -> ((crop, freq) float32 tensor, label)."""
        index, crop, seed = item
        fds, spec = self._open_files(), self.specs[index]
        if crop:
            total = num_rows(spec, fds)
            if total < crop:
                raise DataDirError(f"eg {self.keys[index]} has {total} frames, fewer than the crop {crop}")
            start = seed % (total - crop + 1)  # seed is uniform over [0, 2^62): a uniform start
            mat = read_rows(spec, fds, start, start + crop)  # (crop, freq)
        else:
            mat = read_rows(spec, fds)  # (time, freq)
        return torch.from_numpy(np.ascontiguousarray(mat, dtype=np.float32)), int(self.labels[index])

    def __getstate__(self):  # open files do not travel to spawned workers
        return {**self.__dict__, "_fds": {}, "_pid": -1}


class CropBatchSampler(Sampler):
    """Shuffled batches of (index, crop length, seed), one crop length per batch.

    ``fixed_crop`` (validation) uses one length and fixed per-example seeds (a deterministic loss).
    With ``num_replicas`` > 1 each rank takes every num_replicas-th batch of the same permutation.
    ``start_batch`` skips batches already seen (mid-epoch resume).
    """

    def __init__(self, n: int, batch_size: int, crop_min: int, crop_max: int, seed: int = 0, shuffle: bool = True,
                 drop_last: bool = True, rank: int = 0, num_replicas: int = 1):
        if not 0 < crop_min <= crop_max:
            raise UsageError(f"need 0 < crop_min <= crop_max, got {crop_min}, {crop_max}")
        self.n, self.bs, self.cmin, self.cmax = n, batch_size, crop_min, crop_max
        self.seed, self.shuffle, self.drop_last = seed, shuffle, drop_last
        self.rank, self.replicas = rank, num_replicas
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch

    def _all_batches(self) -> list[list[tuple[int, int, int]]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(self.n) if self.shuffle else np.arange(self.n)
        n_batches = self.n // self.bs if self.drop_last else math.ceil(self.n / self.bs)
        n_batches -= n_batches % self.replicas  # every rank gets the same number of batches
        crops = rng.integers(self.cmin, self.cmax + 1, size=max(n_batches, 1))
        seeds = rng.integers(0, 2**62, size=self.n) if self.shuffle else np.arange(self.n) + self.seed
        return [[(int(i), int(crops[b]), int(seeds[i])) for i in order[b * self.bs:(b + 1) * self.bs]]
                for b in range(n_batches)]

    def __iter__(self):
        batches = self._all_batches()[self.rank::self.replicas]
        yield from batches[self.start_batch:]

    def __len__(self) -> int:
        n_batches = self.n // self.bs if self.drop_last else math.ceil(self.n / self.bs)
        return (n_batches - n_batches % self.replicas) // self.replicas


def collate(batch):
    """(list of ((time, freq), label)) -> ((batch, time, freq), (batch,))."""
    feats, labels = zip(*batch)
    return torch.stack(feats), torch.tensor(labels, dtype=torch.long)


def chunk_plan(length: int, max_frames: int) -> list[tuple[int, int]]:
    """Equal-length (start, end) chunks covering all ``length`` frames; the last chunk overlaps the
    previous one instead of being padded or dropping frames."""
    if length <= max_frames:
        return [(0, length)]
    n = math.ceil(length / max_frames)
    size = math.ceil(length / n)
    return [(min(i * size, length - size), min(i * size, length - size) + size) for i in range(n)]


def length_batches(lengths: dict[str, int], max_frames: int = 3000, batch_frames: int = 30000):
    """Batches of (utt, start, end) chunks of one common length, at most ``batch_frames`` frames each.
    Utterances longer than ``max_frames`` are split into equal chunks (their embeddings are averaged
    by the caller)."""
    by_len: dict[int, list[tuple[str, int, int]]] = {}
    for utt, n in lengths.items():
        for s, e in chunk_plan(n, max_frames):
            by_len.setdefault(e - s, []).append((utt, s, e))
    for size in sorted(by_len):
        items = by_len[size]
        per = max(1, batch_frames // size)
        for i in range(0, len(items), per):
            yield items[i:i + per]


class UtteranceLoader:
    """Iterate (items, feats (batch, time, freq)) over full-length utterances: ``feats`` maps each
    utterance to a feats.scp entry or to an in-memory (time, freq) array. ``voiced`` (utt -> bool
    mask over its frames) keeps only those frames, as Kaldi's select-voiced-frames; ``lengths`` are
    then the voiced counts."""

    def __init__(self, feats: dict[str, str | np.ndarray], lengths: dict[str, int], max_frames: int = 3000,
                 batch_frames: int = 30000, min_frames: int = 1, voiced: dict[str, np.ndarray] | None = None,
                 dim: int | None = None):
        short = [u for u, n in lengths.items() if n < min_frames]
        if short:
            raise DataDirError(f"{len(short)} utterance(s) shorter than the model's {min_frames} frames, "
                               f"first {short[0]!r} ({lengths[short[0]]} frames)")
        self.feats, self.lengths, self.voiced = feats, lengths, voiced or {}
        self.max_frames, self.batch_frames, self.dim = max_frames, batch_frames, dim
        self._fds: dict = {}

    def num_chunks(self) -> int:
        """Items the iteration yields in all (an utterance over max_frames counts once per chunk)."""
        return sum(len(chunk_plan(n, self.max_frames)) for n in self.lengths.values())

    def read(self, utt: str) -> np.ndarray:
        """The (time, freq) matrix of ``utt``, checked against its declared length and for finiteness."""
        src = self.feats[utt]
        m = src if isinstance(src, np.ndarray) else read_rows(src, self._fds)  # (time, freq)
        where = f"feats.scp entry {utt!r}" + (f" ({src})" if isinstance(src, str) else "")
        declared = len(self.voiced[utt]) if utt in self.voiced else self.lengths[utt]
        if len(m) != declared:
            what = "its vad.scp mask" if utt in self.voiced else "utt2num_frames"
            raise DataDirError(f"{where}: the matrix has {len(m)} frames but {what} says {declared}; "
                               "the data dir's files disagree (rerun steps/make_*.sh, or utils/fix_data_dir.sh)")
        if self.dim is not None and m.shape[1] != self.dim:
            raise DataDirError(f"{where}: {m.shape[1]}-dim features, but the model takes {self.dim}; these are "
                               "not the features the experiment was trained on")
        if not np.isfinite(m).all():
            t, f = np.argwhere(~np.isfinite(m))[0]
            raise DataDirError(f"{where}: non-finite value {m[t, f]} at frame {t}, bin {f}; an embedding of it "
                               "would be NaN")
        return m[self.voiced[utt]] if utt in self.voiced else m

    def __iter__(self):
        cache: dict[str, np.ndarray] = {}
        for batch in length_batches(self.lengths, self.max_frames, self.batch_frames):
            mats = []
            for utt, s, e in batch:
                if utt not in cache:
                    cache = {utt: self.read(utt)}  # (time, freq)
                mats.append(cache[utt][s:e])
            yield batch, torch.from_numpy(np.stack(mats).astype(np.float32))
