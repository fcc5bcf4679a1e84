"""Process set-up for the heavy entry points (training, embedding extraction, saliency, features):
the CPU memory allocator, the ``--device`` choice and progress reports that survive job logs.

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

import argparse
import copy
import ctypes
import ctypes.util
import os
import sys
import time
from core.errors import GfaError, UsageError

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -2, -3, -4  # glibc <malloc.h>
GLIBC_MODES = {"heap": ((M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, 2**31 - 1), (M_TOP_PAD, 64 << 20)),
               "bounded": ((M_MMAP_THRESHOLD, 1 << 20),),
               "default": ()}
PRELOADABLE = ("tcmalloc", "jemalloc", "mimalloc")
MODES = ("auto", "tcmalloc", "jemalloc", *GLIBC_MODES)  # GFA_MALLOC


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
        raise SystemExit(f"GFA_MALLOC={mode}: lib{mode} is not preloaded (this process has {lib or 'glibc'}); "
                         f"start it through path.sh, which finds an installed one (docs/performance.md)")
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


def pick_device(kind: str, gpus: str = "", job: int = 0):
    """``--device auto|cpu|cuda`` -> torch.device: auto is CUDA when PyTorch sees a GPU. With ``gpus``
    ("0,1"), job J (1-based; 0 = no jobs) runs on the ((J - 1) mod n)-th id."""
    import torch  # here: the feature and egs tools import this module and need no torch
    if kind == "cpu" or (kind == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is visible to PyTorch")
    ids = [int(i) for i in gpus.split(",") if i.strip()] or [torch.cuda.current_device()]
    return torch.device(f"cuda:{ids[(max(job, 1) - 1) % len(ids)]}")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """--help of the entry points: the docstring as written and every option's default (options
    without a default, None, or a flag that is off show none)."""

    def _format_action(self, action):
        if action.help is None and self._shows_default(action):
            action = copy.copy(action)
            action.help = "(default: %(default)s)"
        return super()._format_action(action)

    def _get_help_string(self, action):
        text = action.help or ""
        if "%(default)" not in text and self._shows_default(action):
            text += " (default: %(default)s)"
        return text

    @staticmethod
    def _shows_default(action) -> bool:
        return bool(action.option_strings) and action.default not in (None, False, argparse.SUPPRESS, [])


def arg_type(parse):
    """An argparse ``type=`` from a library parser: its GfaError becomes argparse's usage error."""
    def convert(text: str):
        try:
            return parse(text)
        except GfaError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    convert.__name__ = parse.__name__
    return convert


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (a count, a size), with a clear message otherwise."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def progress(items, total: int | None = None, desc: str = "", unit: str = "it", size=None, every: float | None = None):
    """Iterate ``items`` with progress: a tqdm bar on a terminal; otherwise (a job log under run.pl or
    slurm.pl) one line every ``every`` seconds (env GFA_PROGRESS_EVERY, default 30) and one at the end:
    ``<desc>: done/total units (pct), rate/s, ETA``. ``size(item)`` counts the units in an item (e.g.
    the utterances of a batch); ``total`` is in those units."""
    if sys.stderr.isatty():
        from tqdm import tqdm
        if size is None:
            yield from tqdm(items, total=total, desc=desc, unit=unit)
            return
        with tqdm(total=total, desc=desc, unit=unit) as bar:
            for item in items:
                yield item
                bar.update(size(item))
        return
    every = float(os.environ.get("GFA_PROGRESS_EVERY", "30")) if every is None else every
    t0 = last = time.monotonic()
    done = 0
    for item in items:
        yield item
        done += size(item) if size else 1
        now = time.monotonic()
        if now - last >= every:
            last = now
            print(progress_line(desc, done, total, unit, now - t0), file=sys.stderr, flush=True)
    print(progress_line(desc, done, total, unit, time.monotonic() - t0), file=sys.stderr, flush=True)


def progress_line(desc: str, done: int, total: int | None, unit: str, elapsed: float) -> str:
    """``embed: 120/480 utt (25.0 %), 3.1 utt/s, elapsed 39 s, ETA 1 min 56 s``."""
    rate = done / max(elapsed, 1e-9)
    of = f"/{total} {unit} ({100 * done / max(total, 1):.1f} %)" if total else f" {unit}"
    eta = f", ETA {duration(max(total - done, 0) / rate)}" if total and rate > 0 else ""
    return f"{desc}: {done}{of}, {rate:.3g} {unit}/s, elapsed {duration(elapsed)}{eta}"


def duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600} h {s % 3600 // 60} min" if s >= 3600 else f"{s // 60} min {s % 60} s" if s >= 60 else f"{s} s"
