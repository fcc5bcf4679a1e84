"""AS-norm cohort statistics at VoxCeleb scale: time and peak memory of the blocked float32 code
(evaluation/metrics.cohort_stats) against the plain full-matrix float64 sort it replaced, in one run.

    python bench/asnorm.py [--utts 145375] [--cohort 5994] [--dim 256] [--top-k 300]

Vox1-E: 145,375 utterances; a cohort of one mean embedding per VoxCeleb2-dev speaker: 5,994. The plain
version is run on --plain-utts utterances (its memory grows with utterances x cohort) and its figures
are scaled linearly to the full size; each variant runs in its own process so that peaks do not mix.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import json, resource, sys, time
import numpy as np
sys.path.insert(0, {root!r})
from evaluation.metrics import cohort_stats
n, c, d, k, plain = {n}, {c}, {d}, {k}, {plain}
rng = np.random.default_rng(0)
m, coh = rng.standard_normal((n, d), dtype=np.float32), rng.standard_normal((c, d), dtype=np.float32)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.time()
if plain:
    mm = m.astype(np.float64); mm /= np.linalg.norm(mm, axis=1, keepdims=True)
    cc = coh.astype(np.float64); cc /= np.linalg.norm(cc, axis=1, keepdims=True)
    top = -np.sort(-(mm @ cc.T), axis=1)[:, :k]
    mu, sd = top.mean(1), top.std(1)
else:
    mu, sd = cohort_stats(m, coh, k)
print(json.dumps({{"seconds": time.time() - t, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "inputs_mb": base / 1024}}))
"""


def child(n: int, a, plain: bool) -> dict:
    code = CHILD.format(root=str(ROOT), n=n, c=a.cohort, d=a.dim, k=a.top_k, plain=plain)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--utts", type=int, default=145375)
    p.add_argument("--plain-utts", type=int, default=20000)
    p.add_argument("--cohort", type=int, default=5994)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--top-k", type=int, default=300)
    a = p.parse_args()
    new = child(a.utts, a, False)
    old = child(a.plain_utts, a, True)
    scale = a.utts / a.plain_utts
    old_peak = old["inputs_mb"] + (old["peak_mb"] - old["inputs_mb"]) * scale
    print(f"asnorm: {a.utts:,} utterances x cohort {a.cohort:,}, dim {a.dim}, top {a.top_k}")
    print(f"  blocked float32 (cohort_stats): {new['seconds']:.1f} s, peak RSS {new['peak_mb']:.0f} MB")
    print(
        f"  plain float64 sort: {old['seconds'] * scale:.1f} s and {old_peak:.0f} MB extrapolated from "
        f"{a.plain_utts:,} utterances ({old['seconds']:.1f} s, {old['peak_mb']:.0f} MB measured)"
    )
    print(f"  ratio plain / blocked: time {old['seconds'] * scale / new['seconds']:.1f}x, peak {old_peak / new['peak_mb']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
