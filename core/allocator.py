"""The CPU memory allocator of the heavy entry points (training, embedding extraction, saliency, features).

PyTorch's CPU tensors come straight from malloc. glibc maps every block above its mmap threshold
afresh and unmaps it on free, so each large activation of a forward/backward pass is zero-filled by
the kernel page by page; keeping every block in the heap instead (``M_MMAP_MAX = 0``, the "heap" mode
below) removes that cost but the heap fragments when shapes change from batch to batch (a new crop
length each batch): the demo teacher grew to 8.4 GB. Measured on a 2-core machine (docs/performance.md, "CPU memory and the
allocator"), tcmalloc preloaded is both the fastest and the smallest, so ``path.sh`` preloads it
when installed (jemalloc on request: as fast, but it grew); ``tune_allocator`` reports the preloaded
library and leaves it alone. Without one, glibc
runs "bounded": every block of 1 MiB or more is mapped (the threshold fixed, so freed memory goes back
at once) and PyTorch asks for transparent huge pages for it (``THP_MEM_ALLOC_ENABLE``), 512 times fewer
page faults. ``GFA_MALLOC`` chooses: auto (default: the preloaded library, else ``prefer``),
tcmalloc or jemalloc (path.sh preloads that one; an error when it is not preloaded), bounded, heap
(fast, unbounded), default (glibc untouched).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -2, -3, -4  # glibc <malloc.h>
GLIBC_MODES = {
    "heap": ((M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, 2**31 - 1), (M_TOP_PAD, 64 << 20)),
    "bounded": ((M_MMAP_THRESHOLD, 1 << 20),),
    "default": (),
}
PRELOADABLE = ("tcmalloc", "jemalloc", "mimalloc")
MODES = ("auto", *PRELOADABLE, *GLIBC_MODES)  # GFA_MALLOC


def preloaded_allocator() -> str:
    """The allocator library mapped into this process (jemalloc, tcmalloc, mimalloc; LD_PRELOAD by
    path.sh) or "" for the C library's own."""
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:
        return ""
    return next((name for name in PRELOADABLE if f"/lib{name}" in maps), "")


def tune_allocator(prefer: str = "bounded") -> str:
    """Set this process's allocator as GFA_MALLOC asks (auto = a preloaded library, else ``prefer``)
    and return what is in use: "tcmalloc", "jemalloc", "glibc bounded", "glibc heap" or "glibc default"."""
    mode = os.environ.get("GFA_MALLOC", "") or "auto"
    if mode not in MODES:
        raise SystemExit(f"GFA_MALLOC={mode!r}: expected one of {', '.join(MODES)}")
    lib = preloaded_allocator()
    if mode in PRELOADABLE and lib != mode:
        raise SystemExit(
            f"GFA_MALLOC={mode}: lib{mode} is not preloaded (this process has {lib or 'glibc'}); "
            f"start it through path.sh, which finds an installed one (docs/performance.md)"
        )
    if lib:  # glibc's malloc is not the one in use: nothing to set
        return lib if mode in ("auto", lib) else f"{lib} (preloaded: GFA_MALLOC={mode} applies to glibc only)"
    mode = prefer if mode == "auto" else mode
    if mode == "default" or not sys.platform.startswith("linux") or not _mallopt(GLIBC_MODES[mode]):
        return "glibc default"
    if mode == "bounded" and not os.environ.get("THP_MEM_ALLOC_ENABLE"):  # read at PyTorch's first allocation
        os.environ["THP_MEM_ALLOC_ENABLE"] = "1"
    return f"glibc {mode}"


def _mallopt(settings) -> bool:
    """Apply (param, value) pairs through glibc's mallopt; False (nothing changed) where impossible."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 (a glibc-only symbol: AttributeError elsewhere)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in settings)
