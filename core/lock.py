"""An exclusive lock per output dir: a second run writing the same place stops and says who holds it."""

from __future__ import annotations

import fcntl
import os
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from core.errors import GfaError


class LockedError(GfaError, RuntimeError):
    pass


@contextmanager
def exclusive_lock(d: str | Path, what: str):
    """Hold ``<d>/.lock`` (flock, released by the kernel when the process ends, even on SIGKILL) for the
    ``with`` block. The holder's pid, host, start time and command are written into it."""
    path = Path(d) / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown process"
            raise LockedError(f"{path}: {what} is in use by another run ({holder}); wait for it, or stop it") from None
        f.seek(0)
        f.truncate()
        f.write(
            f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}: "
            f"{' '.join(sys.argv)[:200]}\n"
        )
        f.flush()
        yield
