"""Peak memory of a command and of everything it starts, for the benches.

``run_peak(cmd)`` runs a command and returns its wall time, the largest resident set of any single
process it ran (``ru_maxrss`` from wait4: the command and its waited-for descendants) and the peak of
the whole process tree's proportional set size (PSS: shared library pages split between the processes
that map them), sampled every ``every`` seconds from /proc (Linux). ``recipe_env`` starts a command as the recipe
does (path.sh) with a given GFA_MALLOC. Nothing here imports torch: a forked child's ru_maxrss starts
at its parent's resident size, so a parent holding torch would put a floor under every figure.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
import time
from pathlib import Path

from core.allocator import MODES as MALLOCS, PRELOADABLE  # GFA_MALLOC settings; steps.runtime imports no torch

ROOT = Path(__file__).resolve().parents[1]

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
    return {
        "rc": p.returncode,
        "wall": time.perf_counter() - t0,
        "max_rss_gb": usage.ru_maxrss * 1024 / GB,
        "tree_gb": peak[0] / GB,
    }


def recipe_env(mode: str) -> tuple[str, dict]:
    """(shell prefix, environment) that start a command as the recipe does with GFA_MALLOC=mode."""
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "MALLOC_CONF", "THP_MEM_ALLOC_ENABLE")}
    env["GFA_MALLOC"] = mode
    return f"cd {shlex.quote(str(ROOT))} && . ./path.sh && ", env


def installed(mode: str) -> bool:
    """Whether path.sh can start a process with GFA_MALLOC=mode (tcmalloc/jemalloc/mimalloc: the library is found)."""
    if mode not in PRELOADABLE:
        return True
    p = subprocess.run(
        ["bash", "-c", f". ./path.sh && gfa_find_allocator {mode}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=recipe_env(mode)[1],
    )
    return bool(p.stdout.strip())


def check_modes(modes: list[str]) -> list[str]:
    """``modes`` when each is a GFA_MALLOC value this machine can run; exits naming the one it cannot."""
    for mode in modes:
        if mode not in MALLOCS:
            raise SystemExit(f"bench: GFA_MALLOC setting {mode!r}: expected one of {', '.join(MALLOCS)}")
        if not installed(mode):
            raise SystemExit(f"bench: GFA_MALLOC={mode}: lib{mode} is not installed here (path.sh finds none)")
    return modes
