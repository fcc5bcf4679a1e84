"""core/allocator.py and path.sh: the allocator settings take effect. "heap" reuses large blocks (no
page faults once settled); "bounded" hands them back at once and PyTorch takes huge pages for them;
a preloaded tcmalloc/jemalloc is reported and left alone; a wrong GFA_MALLOC is an error."""

import os
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt, /proc")

PROBE = """
import resource, torch
import steps.train  # the entry point's imports come before its tune_allocator() call
from core.allocator import tune_allocator
print(tune_allocator())

def rss():
    return int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize()

def rounds(n):  # tensors of 32-80 MiB, freed out of order, as in a forward/backward pass
    for _ in range(n):
        x = torch.ones(16 << 20); y = torch.ones(8 << 20); del x; z = torch.ones(20 << 20); del y, z

rounds(5)  # the heap settles (posix_memalign's split chunks find their places)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
rounds(5)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
x = torch.ones(64 << 20)  # 256 MiB, resident now
huge = next(int(l.split()[1]) for l in open("/proc/self/smaps_rollup") if l.startswith("AnonHugePages"))
held = rss()
del x
print(huge, (held - rss()) >> 20)  # MiB handed back to the system by the free
"""


def probe(mode: str) -> tuple[str, int, int, int]:
    env = {"GFA_MALLOC": mode, "LD_PRELOAD": "", "THP_MEM_ALLOC_ENABLE": ""}
    p = run([sys.executable, "-c", PROBE], env=env)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.split("\n")
    huge, returned = lines[2].split()
    return lines[0], int(lines[1]), int(huge), int(returned)


def thp_mode() -> str:
    """The kernel's transparent-huge-page mode: always, madvise, never ("" when unknown)."""
    try:
        text = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return ""
    return text.split("[")[1].split("]")[0] if "[" in text else ""


def test_heap_reuses_large_blocks_and_bounded_returns_them():
    default, heap, bounded = probe("default"), probe("heap"), probe("bounded")
    assert (default[0], heap[0], bounded[0]) == ("glibc default", "glibc heap", "glibc bounded")
    # default: every 64 MiB tensor is a fresh mapping (thousands of page faults each); heap: reused
    assert heap[1] * 10 < default[1], (heap, default)
    assert heap[3] < 16, heap  # the freed 256 MiB stays in the heap
    assert bounded[3] >= 200, bounded  # ... and goes back at once when bounded
    if thp_mode() in ("always", "madvise"):  # PyTorch saw THP_MEM_ALLOC_ENABLE, set after torch's import
        assert bounded[2] >= 128 << 10, bounded
    if thp_mode() == "madvise":  # ... and only because of it
        assert default[2] == 0, default


def test_bad_setting_is_an_error():
    p = run(
        [sys.executable, "-c", "from core.allocator import tune_allocator; tune_allocator()"], env={"GFA_MALLOC": "tcmalloc4"}
    )
    assert p.returncode != 0, p.stdout
    assert "GFA_MALLOC='tcmalloc4': expected one of auto, tcmalloc, jemalloc, mimalloc, heap, bounded, default" in p.stderr
    # a named library that is not in the process: said, not silently replaced by glibc
    p = run(
        [sys.executable, "-c", "from core.allocator import tune_allocator; tune_allocator()"],
        env={"GFA_MALLOC": "jemalloc", "LD_PRELOAD": ""},
    )
    assert p.returncode != 0 and "GFA_MALLOC=jemalloc: libjemalloc is not preloaded (this process has glibc)" in p.stderr


SHOW = "from core.allocator import tune_allocator; print(tune_allocator())"


def test_path_sh_preloads_an_installed_allocator():
    clean = {"LD_PRELOAD": "", "MALLOC_CONF": ""}
    found = run(["bash", "-c", ". ./path.sh && gfa_find_allocator"], env=clean).stdout.strip()
    p = run(["bash", "-c", f". ./path.sh && python -c '{SHOW}'"], env={**clean, "GFA_MALLOC": "auto"})
    assert p.returncode == 0, p.stderr
    base = os.path.basename(found)  # auto: tcmalloc, else mimalloc, never jemalloc
    name = "tcmalloc" if "tcmalloc" in base else "mimalloc" if "mimalloc" in base else "glibc bounded"
    assert p.stdout.strip() == name, (found, p.stdout)
    p = run(["bash", "-c", f". ./path.sh && echo \"[$LD_PRELOAD]\" && python -c '{SHOW}'"], env={**clean, "GFA_MALLOC": "heap"})
    assert p.stdout.split() == ["[]", "glibc", "heap"], p.stdout  # a glibc mode: nothing preloaded
    if found:  # preloaded, then asked for a glibc mode: said, not silently ignored
        p = run([sys.executable, "-c", SHOW], env={"LD_PRELOAD": found, "GFA_MALLOC": "heap"})
        assert "(preloaded: GFA_MALLOC=heap applies to glibc only)" in p.stdout, p.stdout


def test_path_sh_keeps_a_users_preload(tmp_path):
    p = run(
        ["bash", "-c", '. ./path.sh && echo "$LD_PRELOAD"'],
        env={"LD_PRELOAD": "/opt/x/libtcmalloc_minimal.so.4", "GFA_MALLOC": "auto"},
        cwd=ROOT,
    )
    assert p.stdout.strip() == "/opt/x/libtcmalloc_minimal.so.4"


def test_path_sh_finds_mimalloc_where_pip_puts_it(tmp_path):
    """pip's cmeel-mimalloc installs lib/libmimalloc.so.3 under site-packages/cmeel.prefix: found there."""
    site = tmp_path / "site"
    lib = site / "cmeel.prefix" / "lib"
    lib.mkdir(parents=True)
    (lib / "libmimalloc.so.3").write_bytes(b"")
    fake = tmp_path / "bin" / "python3"  # a python whose purelib is the fake site-packages
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\necho {site}/cmeel.prefix/lib\n")
    fake.chmod(0o755)
    env = {"LD_PRELOAD": "", "PATH": f"{fake.parent}:/usr/bin:/bin", "VIRTUAL_ENV": "x", "CONDA_PREFIX": ""}
    p = run(["bash", "-c", ". ./path.sh >/dev/null 2>&1; gfa_find_allocator mimalloc"], env=env, cwd=ROOT)
    assert p.stdout.strip() == f"{lib}/libmimalloc.so.3", p.stdout + p.stderr


@pytest.mark.parametrize("lib", ["tcmalloc", "jemalloc", "mimalloc"])
def test_path_sh_preloads_the_named_allocator(lib):
    clean = {"LD_PRELOAD": "", "MALLOC_CONF": "", "GFA_MALLOC": lib}
    found = run(["bash", "-c", f". ./path.sh && gfa_find_allocator {lib}"], env=clean).stdout.strip()
    if not found:
        pytest.skip(f"lib{lib} is not installed")
    p = run(["bash", "-c", f". ./path.sh && echo \"[$MALLOC_CONF]\" && python -c '{SHOW}'"], env=clean)
    assert p.returncode == 0, p.stderr
    conf, name = p.stdout.split()
    assert name == lib, p.stdout
    assert conf == ("[narenas:1,dirty_decay_ms:-1,muzzy_decay_ms:-1]" if lib == "jemalloc" else "[]"), conf
