"""Kaldi ark/scp output that a killed job cannot leave half-written, and job completion markers.

A job writes ``<prefix>.ark`` + ``<prefix>.scp`` (+ side tables) through temp files, renames them in
place when done, and writes ``<prefix>.done`` last, holding a fingerprint of its inputs and options.
A rerun trusts a job's outputs only when that marker exists and its fingerprint matches.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import kaldiio

from core.atomic import atomic_write_text


def fingerprint(files: list[str | Path], **extra) -> str:
    """sha1 over the bytes of ``files`` (missing ones count as absent) and ``extra`` settings."""
    h = hashlib.sha1()
    for f in files:
        p = Path(f)
        h.update(str(p.name).encode())
        h.update(p.read_bytes() if p.exists() else b"<absent>")
    h.update(json.dumps(extra, sort_keys=True, default=str).encode())
    return h.hexdigest()


def ark_identity(path: str | Path, span: int = 1 << 20) -> dict:
    """A cheap identity of an ark that others point into: its size and a sha1 of its first and last
    ``span`` bytes. Re-extracted (changed) features change it; a byte-identical copy does not."""
    p = Path(path)
    size = p.stat().st_size
    h = hashlib.sha1()
    with open(p, "rb") as f:
        h.update(f.read(span))
        f.seek(max(size - span, 0))
        h.update(f.read(span))
    return {"bytes": size, "sha1_ends": h.hexdigest()}


def job_done(prefix: str | Path, fp: str, outputs: tuple[str, ...] = (".ark", ".scp")) -> bool:
    marker = Path(f"{prefix}.done")
    if not marker.exists() or not all(Path(f"{prefix}{s}").exists() for s in outputs):
        return False
    try:
        return json.loads(marker.read_text()).get("fingerprint") == fp
    except (ValueError, OSError):
        return False


def mark_done(prefix: str | Path, fp: str, **stats) -> None:
    atomic_write_text(f"{prefix}.done", json.dumps({"fingerprint": fp, **stats}) + "\n")


class AtomicArkWriter:
    """``with AtomicArkWriter(prefix, compress) as w: w[key] = matrix`` -> ``<prefix>.{ark,scp}``.

    The scp names the final absolute ark path. On an exception nothing is renamed and the temp
    files are removed; any earlier ``.done`` marker is deleted at the start.
    """

    def __init__(self, prefix: str | Path, compress: bool = False):
        self.prefix = Path(prefix).absolute()
        self.ark, self.scp = Path(f"{self.prefix}.ark"), Path(f"{self.prefix}.scp")
        self.tmp_ark, self.tmp_scp = Path(f"{self.prefix}.ark.tmp"), Path(f"{self.prefix}.scp.tmp")
        self.compress = compress
        self.count = 0

    def __enter__(self):
        self.prefix.parent.mkdir(parents=True, exist_ok=True)
        Path(f"{self.prefix}.done").unlink(missing_ok=True)
        self._writer = kaldiio.WriteHelper(
            f"ark,scp:{self.tmp_ark},{self.tmp_scp}", compression_method=1 if self.compress else None
        )
        self._writer.__enter__()
        return self

    def __setitem__(self, key: str, value) -> None:
        try:
            self._writer[key] = value
        except OSError as e:  # disk full, quota, I/O error: say which file
            raise OSError(e.errno, f"writing {self.ark} failed: {e.strerror or e}", str(self.tmp_ark)) from None
        self.count += 1

    def put_blob(self, key: str, blob: bytes) -> None:
        """Write the bytes of a binary matrix (from ``\\0B``) as they are: no decode, no re-encoding."""
        fark = self._writer.fark
        try:
            fark.write(f"{key} ".encode())
            pos = fark.tell()
            fark.write(blob)
        except OSError as e:
            raise OSError(e.errno, f"writing {self.ark} failed: {e.strerror or e}", str(self.tmp_ark)) from None
        self._writer.fscp.write(f"{key} {self.tmp_ark}:{pos}\n")
        self.count += 1

    def put_reference(self, key: str, spec: str) -> None:
        """An scp line naming a matrix (or row range) that lives in another ark; nothing goes to this ark."""
        self._writer.fscp.write(f"{key} {spec}\n")
        self.count += 1

    def _discard(self) -> None:
        for p in (self.tmp_ark, self.tmp_scp):
            p.unlink(missing_ok=True)

    def __exit__(self, exc_type, exc, tb):
        try:
            self._writer.__exit__(exc_type, exc, tb)
        except OSError as e:  # the final flush can fail too (disk full)
            self._discard()
            raise OSError(e.errno, f"writing {self.ark} failed: {e.strerror or e}", str(self.tmp_ark)) from None
        if exc_type is not None:
            self._discard()
            return False
        try:
            text = self.tmp_scp.read_text() if self.tmp_scp.exists() else ""
            os.replace(self.tmp_ark, self.ark)
            atomic_write_text(self.scp, text.replace(f" {self.tmp_ark}:", f" {self.ark}:"))
        except OSError:
            self._discard()
            raise
        self.tmp_scp.unlink(missing_ok=True)
        return False
