"""The one atomic writer: write beside the target, then rename over it.

A reader sees the old file or the new one, never half of either, and a failure removes the temp
file. The new file gets the mode of the file it replaces, or the one the umask gives a new file
(``tempfile.mkstemp`` alone would make every file 0600 whatever the umask).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


def new_file_mode(path: Path) -> int:
    """The replaced file's permission bits, else 0666 minus the process umask."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextmanager
def atomic_path(path: str | Path):
    """``with atomic_path(p) as tmp: write(tmp)`` -> ``p`` appears complete, or not at all.

    ``tmp`` is a fresh empty file in p's directory (same file system, so the rename is atomic) whose
    name keeps p's suffix (numpy and matplotlib choose formats by it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, new_file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """``text`` as UTF-8 with ``\\n`` line ends."""
    atomic_write_bytes(path, text.encode("utf-8"))
