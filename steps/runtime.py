"""Process set-up for the heavy entry points (training, embedding extraction, saliency, features):
the allocator settings below and the ``--device`` choice.

glibc serves each allocation above its mmap threshold (32 MiB at most) with a fresh ``mmap`` and
returns it to the kernel on ``free``. PyTorch's CPU allocator goes straight to malloc, so every large
activation of a CPU forward/backward pass is a new mapping: the kernel zero-fills it page by page and
the process spends much of its time in page faults (``sys`` time). ``tune_allocator`` tells glibc to
serve large blocks from the heap and to keep freed memory for reuse (``M_MMAP_MAX = 0``, a 2 GiB trim
threshold, 64 MiB top pad), the effect the PyTorch CPU tuning guides get by preloading jemalloc or
tcmalloc. The process keeps its peak memory until it exits, which is what a training or extraction
job reaches on every batch anyway. Measured on a 2-core machine (README, "CPU memory allocator"):
ResCNN-32 training +27-30 % samples/s (bench/train.py --malloc default|tuned), spectrogram extraction
+32 % (bench/features.py), Integrated Gradients on ResCNN-64 / ECAPA-512 1.67x (bench/saliency.py).

Set ``GFA_MALLOC=default`` to leave glibc's settings alone. Other C libraries are left as they are.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_MAX = -1, -2, -4  # glibc <malloc.h>
SETTINGS = ((M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, 2**31 - 1), (M_TOP_PAD, 64 << 20))


def tune_allocator() -> bool:
    """Apply SETTINGS through glibc's mallopt; False (nothing changed) where that is not possible."""
    if os.environ.get("GFA_MALLOC", "") == "default" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 (a glibc-only symbol: AttributeError elsewhere)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in SETTINGS)


def pick_device(kind: str, gpus: str = "", job: int = 0):
    """``--device auto|cpu|cuda`` -> torch.device: auto is CUDA when PyTorch sees a GPU. With ``gpus``
    ("0,1"), job J (1-based; 0 = no jobs) runs on the ((J - 1) mod n)-th id."""
    import torch  # here: the feature and egs tools import this module and need no torch
    if kind == "cpu" or (kind == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is visible to PyTorch")
    ids = [int(i) for i in gpus.split(",") if i.strip()] or [torch.cuda.current_device()]
    return torch.device(f"cuda:{ids[(max(job, 1) - 1) % len(ids)]}")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (a count, a size), with a clear message otherwise."""
    import argparse
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v
