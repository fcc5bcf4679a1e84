"""Fast reads of a row range of one Kaldi matrix in an ark (``path:offset``), for the training loader.

Uncompressed float/double matrices (``FM``/``DM``) read only the requested rows; Kaldi
speech-feature compressed matrices (``CM``: per-column 0/25/75/100 % quantiles and one byte per value,
stored column-major) are decoded with a 256-entry table per column, only for the requested rows.
Anything else (CM2, CM3, text) falls back to kaldiio.
"""
from __future__ import annotations

import struct
from pathlib import Path

import kaldiio
import numpy as np

from datasets.kaldi_files import DataDirError


_V = np.arange(256, dtype=np.float32)[None, :]  # byte values
_COL_OFFSETS = (np.arange(4096, dtype=np.intp) * 256)[:, None]  # row offsets into a (cols, 256) table


def _open(path: str, fds: dict):
    f = fds.get(path)
    if f is None:
        f = fds[path] = open(path, "rb")
    return f


def _cm_rows(f, start: int, stop: int | None) -> np.ndarray:
    min_value, rng, rows, cols = struct.unpack("<ffii", f.read(16))
    quant = np.frombuffer(f.read(8 * cols), dtype="<u2").reshape(cols, 4).astype(np.float32)
    base = f.tell()
    stop = rows if stop is None else min(stop, rows)
    p = min_value + quant * (rng / 65535.0)  # (cols, 4): p0, p25, p75, p100
    p0, p25, p75, p100 = p[:, :1], p[:, 1:2], p[:, 2:3], p[:, 3:4]
    lut = np.concatenate([p0 + (p25 - p0) * (_V[:, :65] / 64.0), p25 + (p75 - p25) * ((_V[:, 65:193] - 64) / 128.0),
                          p75 + (p100 - p75) * ((_V[:, 193:] - 192) / 63.0)], axis=1)  # (cols, 256)
    f.seek(base)
    data = np.frombuffer(f.read(rows * cols), dtype=np.uint8).reshape(cols, rows)[:, start:stop]  # (cols, time)
    return lut.ravel()[data + _COL_OFFSETS[:cols]].T  # (time, cols)


def _dense_rows(f, dtype: str, start: int, stop: int | None) -> np.ndarray:
    rows = struct.unpack("<bi", f.read(5))[1]
    cols = struct.unpack("<bi", f.read(5))[1]
    stop = rows if stop is None else min(stop, rows)
    size = np.dtype(dtype).itemsize
    f.seek(start * cols * size, 1)
    return np.frombuffer(f.read((stop - start) * cols * size), dtype=dtype).reshape(stop - start, cols)


class ArkReadError(DataDirError):
    """A matrix cannot be read where its scp entry points (the message names the entry and the file)."""


def read_rows(spec: str, fds: dict, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Rows [start, stop) of the matrix at ``spec`` = ``ark_path:offset`` as float32 (time, freq);
    ArkReadError naming ``spec`` when the offset is past the end or the bytes there are no matrix."""
    try:
        return _read_rows(spec, fds, start, stop)
    except (AssertionError, struct.error, ValueError, EOFError) as e:  # kaldiio asserts; short reads
        size = _size(spec.rpartition(":")[0])
        raise ArkReadError(f"{spec}: no readable matrix there ({type(e).__name__}: {e}; the file has {size} bytes); "
                           "the scp and its ark disagree (rerun the step that wrote them)") from None


def _size(path: str) -> str:
    try:
        return f"{Path(path).stat().st_size:,}"
    except OSError:
        return "unknown"


def _read_rows(spec: str, fds: dict, start: int = 0, stop: int | None = None) -> np.ndarray:
    path, _, offset = spec.rpartition(":")
    f = _open(path, fds)
    f.seek(int(offset))
    head = f.read(5)
    if head[:2] == b"\0B":
        if head[2:5] == b"CM ":
            return _cm_rows(f, start, stop)
        if head[2:5] in (b"FM ", b"DM "):
            return _dense_rows(f, "<f4" if head[2:3] == b"F" else "<f8", start, stop).astype(np.float32)
    return np.asarray(kaldiio.load_mat(spec), dtype=np.float32)[start:stop]


def num_rows(spec: str, fds: dict) -> int:
    """Rows of the matrix at ``spec`` without decoding it."""
    path, _, offset = spec.rpartition(":")
    f = _open(path, fds)
    f.seek(int(offset))
    head = f.read(5)
    if head[:2] == b"\0B" and head[2:5] == b"CM ":
        return struct.unpack("<ffii", f.read(16))[2]
    if head[:2] == b"\0B" and head[2:5] in (b"FM ", b"DM "):
        return struct.unpack("<bi", f.read(5))[1]
    return len(kaldiio.load_mat(spec))
