"""steps/runtime.py: the allocator settings of the entry points take effect (large CPU tensors are
reused from the heap instead of being mapped and zero-filled by the kernel again)."""
import sys

import pytest

from conftest import run

PROBE = """
import resource, torch
from steps.runtime import tune_allocator
print(tune_allocator())

def rounds(n):  # tensors of 32-80 MiB, freed out of order, as in a forward/backward pass
    for _ in range(n):
        x = torch.ones(16 << 20); y = torch.ones(8 << 20); del x; z = torch.ones(20 << 20); del y, z

rounds(5)  # the heap settles (posix_memalign's split chunks find their places)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
rounds(5)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_tuned_allocator_reuses_large_blocks():
    out = {}
    for mode in ("default", "tuned"):
        p = run([sys.executable, "-c", PROBE], env={"GFA_MALLOC": mode})
        assert p.returncode == 0, p.stderr
        applied, faults = p.stdout.split()
        assert applied == ("True" if mode == "tuned" else "False")
        out[mode] = int(faults)
    # default: every 64 MiB tensor is a fresh mapping (thousands of page faults each); tuned: reused
    assert out["tuned"] * 10 < out["default"], out
