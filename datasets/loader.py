"""PyTorch data pipeline: egs with one random crop length per batch, and full-length utterances
batched by length for evaluation and saliency.

Training: :class:`CropBatchSampler` yields batches of (eg index, crop length, seed); the crop length
is drawn once per batch in [crop_min, crop_max], every example gets its own random crop start.
Everything random is derived from (seed, epoch, position), so a batch does not depend on the number
of workers, and a resumed epoch replays exactly. Shapes: an example is (time, freq); a batch
(batch, time, freq).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from datasets.ark_io import ark_identity
from datasets.ark_read import ArkReadError, decode_packed, num_rows, read_packed, read_rows, split_spec
from datasets.kaldi_files import DataDirError, read_pairs
from core.errors import UsageError


class EgsDataset(Dataset):
    """Egs of a ``make_egs`` set: ``feats.scp`` + ``utt2label``; items are (crop (time, freq), label).

    The eg table is numpy arrays (ark index, byte offset, first row, row count, label), not a string per
    eg, so a forked worker inherits a few bytes per eg. Egs stored as row ranges of feature arks
    (``--out-format kaldi_ref``) are checked against the identity of those arks that egs.json recorded.
    """

    def __init__(self, egs_dir, num_classes: int | None = None, packed: bool = False):
        keys, specs = read_pairs(f"{egs_dir}/feats.scp")
        lkeys, labels = read_pairs(f"{egs_dir}/utt2label")
        if keys != lkeys:
            raise DataDirError(f"{egs_dir}: feats.scp and utt2label list different egs ({len(keys)} vs {len(lkeys)})")
        if not keys:
            raise DataDirError(f"{egs_dir}/feats.scp: no egs")
        self.keys = np.array([k.encode() for k in keys])  # bytes, C order
        self.arks, self.table = _eg_table(f"{egs_dir}/feats.scp", specs)
        try:
            self.labels = np.array(labels, dtype=np.int64)
        except ValueError:
            raise DataDirError(f"{egs_dir}/utt2label: labels must be integers") from None
        if num_classes is not None and self.labels.max() >= num_classes:
            raise DataDirError(f"{egs_dir}/utt2label: label {self.labels.max()} but the head has {num_classes} classes")
        check_references(egs_dir)
        self.packed = packed  # crops of compressed egs stay compressed (collate -> PackedBatch)
        self._fds: dict = {}
        self._pid = os.getpid()

    def __len__(self) -> int:
        return len(self.keys)

    def _open_files(self) -> dict:
        """Open ark files, per process: a forked worker must not share the parent's file offsets."""
        if self._pid != os.getpid():
            self._fds, self._pid = {}, os.getpid()
        return self._fds

    def spec(self, index: int) -> str:
        """The feats.scp entry of eg ``index``: ``ark:offset`` or ``ark:offset[first:last]``."""
        ark, offset, first, count = self.table[index]
        return f"{self.arks[ark]}:{offset}" + (f"[{first}:{first + count - 1}]" if count >= 0 else "")

    def feat_dim(self) -> int:
        """Frequency bins of the egs (of the first one)."""
        return read_rows(self.spec(0), self._open_files(), 0, 1).shape[1]

    def __getitem__(self, item):
        """(index, crop length or 0 for all frames, seed) -> ((crop, freq) float32 tensor, label); with
        ``packed``, a crop of a compressed eg is (bytes (freq, crop) uint8, quantiles (freq, 4))."""
        index, crop, seed = item
        fds, spec = self._open_files(), self.spec(index)
        if crop:
            total = num_rows(spec, fds)
            if total < crop:
                raise DataDirError(f"eg {self.keys[index].decode()} has {total} frames, fewer than the crop {crop}")
            start = seed % (total - crop + 1)  # seed is uniform over [0, 2^62): a uniform start
            packed = read_packed(spec, fds, start, start + crop) if self.packed else None
            if packed is not None:  # (freq, crop) bytes and (freq, 4) quantiles, decoded on the device
                return (torch.from_numpy(packed[0]), torch.from_numpy(packed[1])), int(self.labels[index])
            mat = read_rows(spec, fds, start, start + crop)  # (crop, freq)
        else:
            mat = read_rows(spec, fds)  # (time, freq)
        return torch.from_numpy(mat.astype(np.float32, copy=False)), int(self.labels[index])

    def __getstate__(self):  # open files do not travel to spawned workers
        return {**self.__dict__, "_fds": {}, "_pid": -1}


def _eg_table(scp: str, specs: list[str]) -> tuple[list[str], np.ndarray]:
    """(ark paths, (egs, 4) int64 table of ark index, byte offset, first row, row count or -1 for all)."""
    arks: dict[str, int] = {}
    table = np.empty((len(specs), 4), dtype=np.int64)
    for i, spec in enumerate(specs):
        try:
            path, offset, first, count = split_spec(spec)
        except (ArkReadError, ValueError) as e:
            raise DataDirError(f"{scp}:{i + 1}: {spec!r} is no ark:offset[first:last] entry ({e})") from None
        table[i] = arks.setdefault(path, len(arks)), offset, first, -1 if count is None else count
    return list(arks), table


def check_references(egs_dir) -> None:
    """DataDirError when an ark that the egs are row ranges of is gone or changed since make_egs."""
    meta = Path(egs_dir) / "egs.json"
    refs = json.loads(meta.read_text()).get("references", {}) if meta.exists() else {}
    for path, ident in refs.items():
        try:
            now = ark_identity(path)
        except OSError as e:
            raise DataDirError(
                f"{meta}: the egs are row ranges of {path}, which cannot be read ({e.strerror}); rerun a_prep_egs.sh's egs stage"
            ) from None
        if now != ident:
            raise DataDirError(
                f"{meta}: the egs are row ranges of {path}, which changed since they were made "
                f"({ident['bytes']:,} -> {now['bytes']:,} bytes or other content); rerun "
                "a_prep_egs.sh's egs stage (delete its .done marker), or make self-contained egs "
                "with --out-format kaldi_cmp"
            )


class CropBatchSampler(Sampler):
    """Shuffled batches of (index, crop length, seed), one crop length per batch.

    ``fixed_crop`` (validation) uses one length and fixed per-example seeds (a deterministic loss).
    With ``num_replicas`` > 1 each rank takes every num_replicas-th batch of the same permutation.
    ``start_batch`` skips batches already seen (mid-epoch resume).
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        crop_min: int,
        crop_max: int,
        seed: int = 0,
        shuffle: bool = True,
        drop_last: bool = True,
        rank: int = 0,
        num_replicas: int = 1,
    ):
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
        return [
            [(int(i), int(crops[b]), int(seeds[i])) for i in order[b * self.bs : (b + 1) * self.bs]] for b in range(n_batches)
        ]

    def __iter__(self):
        batches = self._all_batches()[self.rank :: self.replicas]
        yield from batches[self.start_batch :]

    def __len__(self) -> int:
        n_batches = self.n // self.bs if self.drop_last else math.ceil(self.n / self.bs)
        return (n_batches - n_batches % self.replicas) // self.replicas


class PackedBatch:
    """A batch of compressed crops, decoded where it is sent: ``.to(device)`` returns the (batch, time,
    freq) float32 tensor, so a loader ships a quarter of the bytes and the GPU does the decode."""

    def __init__(self, data: torch.Tensor, quantiles: torch.Tensor):
        self.data, self.quantiles = data, quantiles  # (batch, freq, time) uint8, (batch, freq, 4) float32

    def __len__(self) -> int:
        return len(self.data)

    def pin_memory(self) -> "PackedBatch":
        return PackedBatch(self.data.pin_memory(), self.quantiles.pin_memory())

    def to(self, device, non_blocking: bool = False) -> torch.Tensor:
        data, q = self.data.to(device, non_blocking=non_blocking), self.quantiles.to(device, non_blocking=non_blocking)
        if data.device.type == "cpu":  # one crop at a time: its (freq, 256) table stays in the CPU's cache
            return torch.stack([decode_packed(d, p) for d, p in zip(data, q)])
        return decode_packed(data, q).contiguous()  # (batch, time, freq)


def collate(batch):
    """(list of ((time, freq) tensor or packed (bytes, quantiles), label)) -> ((batch, time, freq) tensor,
    or a PackedBatch when every item is packed; (batch,) labels)."""
    feats, labels = zip(*batch)
    labels = torch.tensor(labels, dtype=torch.long)
    if all(isinstance(f, tuple) for f in feats):
        return PackedBatch(torch.stack([f[0] for f in feats]), torch.stack([f[1] for f in feats])), labels
    feats = [decode_packed(*f) if isinstance(f, tuple) else f for f in feats]
    return torch.stack(feats), labels


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
            yield items[i : i + per]


class UtteranceLoader:
    """Iterate (items, feats (batch, time, freq)) over full-length utterances: ``feats`` maps each
    utterance to a feats.scp entry or to an in-memory (time, freq) array. ``voiced`` (utt -> bool
    mask over its frames) keeps only those frames, as Kaldi's select-voiced-frames; ``lengths`` are
    then the voiced counts."""

    def __init__(
        self,
        feats: dict[str, str | np.ndarray],
        lengths: dict[str, int],
        max_frames: int = 3000,
        batch_frames: int = 30000,
        min_frames: int = 1,
        voiced: dict[str, np.ndarray] | None = None,
        dim: int | None = None,
    ):
        short = [u for u, n in lengths.items() if n < min_frames]
        if short:
            raise DataDirError(
                f"{len(short)} utterance(s) shorter than the model's {min_frames} frames, "
                f"first {short[0]!r} ({lengths[short[0]]} frames)"
            )
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
            raise DataDirError(
                f"{where}: the matrix has {len(m)} frames but {what} says {declared}; "
                "the data dir's files disagree (rerun steps/make_*.sh, or utils/fix_data_dir.sh)"
            )
        if self.dim is not None and m.shape[1] != self.dim:
            raise DataDirError(
                f"{where}: {m.shape[1]}-dim features, but the model takes {self.dim}; these are "
                "not the features the experiment was trained on"
            )
        if not np.isfinite(m).all():
            t, f = np.argwhere(~np.isfinite(m))[0]
            raise DataDirError(f"{where}: non-finite value {m[t, f]} at frame {t}, bin {f}; an embedding of it would be NaN")
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
