"""Fast reads of a row range of one Kaldi matrix in an ark (``path:offset``), for the training loader.

Uncompressed float/double matrices (``FM``/``DM``) read only the requested rows; Kaldi
speech-feature compressed matrices (``CM``: per-column 0/25/75/100 % quantiles and one byte per value,
stored column-major) are decoded with a 256-entry table per column, only for the requested rows.
A spec may carry Kaldi's row range, ``path:offset[first:last]`` (rows first..last, inclusive), as the
reference egs of steps/make_egs.py do; rows are then counted inside that range.
Anything else (CM2, CM3, text, column ranges) falls back to kaldiio.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import kaldiio
import numpy as np
import torch

from datasets.kaldi_files import DataDirError


def _segment_weights() -> np.ndarray:
    """(4, 256): byte value v decodes to weights @ (p0, p25, p75, p100) of its column, Kaldi's piecewise
    linear map (v <= 64: p0..p25; v <= 192: p25..p75; else p75..p100)."""
    v = np.arange(256)
    lo = np.where(v <= 64, 0, np.where(v <= 192, 1, 2))
    frac = np.where(v <= 64, v / 64, np.where(v <= 192, (v - 64) / 128, (v - 192) / 63))
    w = np.zeros((4, 256))
    w[lo, v] += 1 - frac
    w[lo + 1, v] += frac
    return w.astype(np.float32)


_W = _segment_weights()
_ROW_RANGE = re.compile(r"^(.*)\[(\d+):(\d+)\]$")


def split_spec(spec: str) -> tuple[str, int, int, int | None]:
    """``path:offset[first:last]`` -> (path, offset, first row, row count or None for all rows)."""
    m = _ROW_RANGE.match(spec)
    first, count = (int(m[2]), int(m[3]) - int(m[2]) + 1) if m else (0, None)
    path, _, offset = (m[1] if m else spec).rpartition(":")
    if count is not None and count < 1:
        raise ArkReadError(f"{spec}: empty row range [{m[2]}:{m[3]}]")
    if not (path and offset.isdigit()):  # int() would take '-40' or ' 4', and seek(-40) fails with a bare errno
        raise ArkReadError(f"{spec}: not ark_path:offset with a byte offset >= 0")
    return path, int(offset), first, count


def _open(path: str, fds: dict):
    f = fds.get(path)
    if f is None:
        f = fds[path] = open(path, "rb")
    return f


def _cm_packed(f, start: int, stop: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(bytes (cols, time) uint8, quantiles (cols, 4) float32) of rows [start, stop) of a CM matrix."""
    min_value, rng, rows, cols = struct.unpack("<ffii", f.read(16))
    quant = np.frombuffer(f.read(8 * cols), dtype="<u2").reshape(cols, 4).astype(np.float32)
    stop = rows if stop is None else min(stop, rows)
    p = min_value + quant * (rng / 65535.0)  # (cols, 4): p0, p25, p75, p100
    span = bytearray((cols - 1) * rows + stop - start)  # column 0 from row start to the last column at stop
    f.seek(start, 1)
    if f.readinto(span) != len(span):
        raise EOFError(f"the matrix's data ends before its {rows} x {cols} bytes")
    data = np.lib.stride_tricks.as_strided(np.frombuffer(span, dtype=np.uint8), (cols, stop - start), (rows, 1))
    return data, p  # (cols, time), (cols, 4)


def decode_packed(data: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Kaldi's CM decode of (..., cols, time) uint8 bytes with their (..., cols, 4) quantiles, on the
    tensors' device: each column's 256 values (p @ W), then a gather per column. -> (..., time, cols)."""
    lut = p @ torch.from_numpy(_W).to(p.device)  # (..., cols, 256)
    return torch.gather(lut, -1, data.long()).transpose(-1, -2)  # (..., cols, time) -> (..., time, cols)


def _cm_rows(f, start: int, stop: int | None) -> np.ndarray:
    data, p = _cm_packed(f, start, stop)
    return decode_packed(torch.from_numpy(data), torch.from_numpy(p)).numpy()  # (time, cols), a transposed view


def cm_slice(blob: bytes, first: int, count: int) -> bytes:
    """Rows first..first+count-1 of a Kaldi ``CM`` matrix (``blob`` = its bytes from ``\\0BCM ``), as a
    ``CM`` matrix of its own: the global and per-column headers are kept and each column's bytes cut, as
    Kaldi's CompressedMatrix sub-matrix constructor does; no value is decoded or quantised again."""
    min_value, rng, rows, cols = struct.unpack("<ffii", blob[5:21])
    if not (0 <= first and first + count <= rows and count > 0):
        raise ArkReadError(f"rows {first}..{first + count - 1} of a {rows}-row matrix")
    head = 21 + 8 * cols
    data = np.frombuffer(blob, dtype=np.uint8, count=rows * cols, offset=head).reshape(cols, rows)  # (cols, time)
    return (
        blob[:5]
        + struct.pack("<ffii", min_value, rng, count, cols)
        + blob[21:head]
        + np.ascontiguousarray(data[:, first : first + count]).tobytes()
    )


def _dense_rows(f, dtype: str, start: int, stop: int | None) -> np.ndarray:
    rows = struct.unpack("<bi", f.read(5))[1]
    cols = struct.unpack("<bi", f.read(5))[1]
    stop = rows if stop is None else min(stop, rows)
    size = np.dtype(dtype).itemsize
    f.seek(start * cols * size, 1)
    return np.frombuffer(f.read((stop - start) * cols * size), dtype=dtype).reshape(stop - start, cols)


class ArkReadError(DataDirError):
    """A matrix cannot be read where its scp entry points (the message names the entry and the file)."""


_DECODE_ERRORS = (AssertionError, struct.error, ValueError, EOFError, RuntimeError)  # kaldiio asserts; short reads
_KALDIIO_ERRORS = (*_DECODE_ERRORS, OSError)  # and an ark that cannot be opened


def _unreadable(where: str, spec: str, e: Exception) -> ArkReadError:
    """The error for a ``spec`` whose bytes are no matrix (``where`` names the entry), with the ark's size."""
    return ArkReadError(
        f"{where}: no readable matrix there ({type(e).__name__}: {e}; the file has {_size(spec.rpartition(':')[0])} "
        "bytes); the scp and its ark disagree (rerun the step that wrote them)"
    )


def read_rows(spec: str, fds: dict, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Rows [start, stop) of the matrix at ``spec`` = ``ark_path:offset`` (or ``...[first:last]``) as
    float32 (time, freq); ArkReadError naming ``spec`` when the offset is past the end or the bytes there
    are no matrix, or the row range runs past the matrix."""
    try:
        return _read_rows(spec, fds, start, stop)
    except ArkReadError:  # already names the entry
        raise
    except _DECODE_ERRORS as e:
        raise _unreadable(spec, spec, e) from None


def _size(path: str) -> str:
    try:
        return f"{Path(path).stat().st_size:,}"
    except OSError:
        return "unknown"


def _header(spec: str, fds: dict):
    """(open file positioned after the 5-byte header, the header, first row, row count or None)."""
    path, offset, first, count = split_spec(spec)
    f = _open(path, fds)
    f.seek(offset)
    return f, f.read(5), first, count


def _read_rows(spec: str, fds: dict, start: int = 0, stop: int | None = None) -> np.ndarray:
    f, head, first, count = _header(spec, fds)
    if count is not None:
        stop = count if stop is None else min(stop, count)
        start, stop = first + start, first + stop
    if head[:2] == b"\0B":
        if head[2:5] == b"CM ":
            m = _cm_rows(f, start, stop)
        elif head[2:5] in (b"FM ", b"DM "):
            m = _dense_rows(f, "<f4" if head[2:3] == b"F" else "<f8", start, stop).astype(np.float32)
        else:
            m = None
        if m is not None:
            if count is not None and len(m) < stop - start:
                raise ArkReadError(f"{spec}: the row range ends at row {first + count - 1}, past the matrix's end")
            return m
    return np.asarray(kaldiio.load_mat(spec), dtype=np.float32)[start - first : None if stop is None else stop - first]


def read_packed(spec: str, fds: dict, start: int = 0, stop: int | None = None):
    """Rows [start, stop) of a CM matrix still compressed: (bytes (cols, time) uint8, quantiles (cols, 4)),
    for decoding on the training device (decode_packed); None when the matrix is no CM matrix."""
    try:
        f, head, first, count = _header(spec, fds)
        if head != b"\0BCM ":
            return None
        if count is not None:
            stop = count if stop is None else min(stop, count)
            start, stop = first + start, first + stop
        data, p = _cm_packed(f, start, stop)
        if count is not None and data.shape[1] < stop - start:
            raise ArkReadError(f"{spec}: the row range ends at row {first + count - 1}, past the matrix's end")
        return data, p
    except ArkReadError:  # already names the entry
        raise
    except _DECODE_ERRORS as e:
        raise _unreadable(spec, spec, e) from None


def num_rows(spec: str, fds: dict) -> int:
    """Rows of the matrix at ``spec`` (of its row range, if it has one) without decoding it."""
    f, head, _, count = _header(spec, fds)
    if count is not None:
        return count
    if head[:2] == b"\0B" and head[2:5] == b"CM ":
        return struct.unpack("<ffii", f.read(16))[2]
    if head[:2] == b"\0B" and head[2:5] in (b"FM ", b"DM "):
        return struct.unpack("<bi", f.read(5))[1]
    return len(kaldiio.load_mat(spec))


def matrix_kind(spec: str, fds: dict) -> str | None:
    """``CM``, ``FM``, ``DM`` or ``other`` for a matrix at ``path:offset`` (row range allowed) in an ark
    file; None when ``spec`` names no such place (a pipe, an offset-less path)."""
    try:
        head = _header(spec, fds)[1]
    except (ArkReadError, ValueError, OSError):
        return None
    kind = head[2:5].decode(errors="replace").strip() if head[:2] == b"\0B" else ""
    return kind if kind in ("CM", "FM", "DM") else "other"


def matrix_blob(spec: str, fds: dict) -> bytes:
    """The bytes of the binary ``CM``, ``FM`` or ``DM`` matrix at ``path:offset`` (header included),
    without decoding it; ValueError for a row range or another kind."""
    f, head, _, count = _header(spec, fds)
    kind = head[2:5]
    if count is not None or head[:2] != b"\0B" or kind not in (b"CM ", b"FM ", b"DM "):
        raise ArkReadError(f"{spec}: not a whole CM, FM or DM matrix")
    if kind == b"CM ":
        dims = f.read(16)
        rows, cols = struct.unpack("<ffii", dims)[2:]
        body = f.read(8 * cols + rows * cols)
        size = 8 * cols + rows * cols
    else:
        dims = f.read(10)
        rows, cols = struct.unpack("<bi", dims[:5])[1], struct.unpack("<bi", dims[5:])[1]
        size = rows * cols * (4 if kind == b"FM " else 8)
        body = f.read(size)
    if len(body) != size:
        raise ArkReadError(
            f"{spec}: the matrix's data ends before its {rows} x {cols} values (the file has "
            f"{_size(spec.rpartition(':')[0])} bytes); the scp and its ark disagree"
        )
    return head + dims + body


def scp_entries(scp: Path) -> list[tuple[int, str, str]]:
    """(line number, key, where it points) of every non-blank line of a Kaldi scp; ArkReadError for a key
    given twice (a table read into a dict would keep the last silently)."""
    rows, seen = [], {}
    for n, line in enumerate(Path(scp).read_text(encoding="utf-8").splitlines(), 1):
        key, spec = (line.split(None, 1) + ["", ""])[:2]  # blanks or tabs after the key, as kaldiio reads it
        if key in seen:
            raise ArkReadError(
                f"{scp}:{n}: key {key!r} again (first on line {seen[key]}); which entry is meant cannot be guessed"
            )
        if key:
            seen[key] = n
            rows.append((n, key, spec.strip()))
    return rows


def load_entry(spec: str, where: str) -> np.ndarray:
    """kaldiio.load_mat(spec), or an ArkReadError naming ``where`` (the scp line and key) and the file
    size when the bytes there are no matrix (a truncated or overwritten ark)."""
    try:
        return np.asarray(kaldiio.load_mat(spec))
    except _KALDIIO_ERRORS as e:
        raise _unreadable(f"{where}: {spec}", spec, e) from None


def read_scp(scp: Path):
    """Yield (key, array) of every entry of a Kaldi scp in file order (kaldiio's sequential reader, which
    keeps each ark open); an entry that cannot be read is an ArkReadError naming the scp line, the key,
    where it points and the ark's size, not kaldiio's bare AssertionError."""
    reader = kaldiio.load_scp_sequential(str(scp))
    for n, key, spec in scp_entries(scp):
        try:
            k, m = next(reader)
        except StopIteration:
            return
        except _KALDIIO_ERRORS as e:
            raise _unreadable(f"{scp}:{n}: {key!r} -> {spec}", spec, e) from None
        yield k, np.asarray(m)
