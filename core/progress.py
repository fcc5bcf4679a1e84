"""Progress reports that survive job logs: a tqdm bar on a terminal, a line every N seconds in a log."""

from __future__ import annotations

import os
import sys
import time


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
