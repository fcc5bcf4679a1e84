"""Peak memory of a command and of everything it starts, for the benches.

``run_peak(cmd)`` runs a command and returns its wall time, the largest resident set of any single
process it ran (``ru_maxrss`` from wait4: the command and its waited-for descendants) and the peak of
the whole process tree's proportional set size (PSS: shared library pages split between the processes
that map them), sampled every ``every`` seconds from /proc (Linux).
"""
from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

GB = 2**30


def descendants(root: int) -> list[int]:
    """``root`` and every live process below it (from /proc/<pid>/stat parent ids)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def pss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def run_peak(cmd, env: dict | None = None, cwd=None, every: float = 0.25, stdout=None) -> dict:
    """Run ``cmd`` (a list, or a string for bash -c); {"rc", "wall", "max_rss_gb", "tree_gb"}."""
    args = ["bash", "-c", cmd] if isinstance(cmd, str) else list(cmd)
    t0 = time.perf_counter()
    p = subprocess.Popen(args, env=env, cwd=cwd, stdout=stdout, stderr=subprocess.STDOUT if stdout else None)
    peak, done = [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], sum(pss_bytes(pid) for pid in descendants(p.pid)))
            done.wait(every)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(p.pid, 0)
    done.set()
    sampler.join()
    p.returncode = os.waitstatus_to_exitcode(status)
    return {"rc": p.returncode, "wall": time.perf_counter() - t0, "max_rss_gb": usage.ru_maxrss * 1024 / GB,
            "tree_gb": peak[0] / GB}
