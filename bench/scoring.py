"""Scoring speed: 1 M trials -> EER and both minDCFs (goal <= 2 s), against scikit-learn's ROC in the
same run.

    python bench/scoring.py [--trials 1000000]

Times cosine scoring of the trials from 20,000 random 256-dim embeddings, then EER + minDCF(0.01)
+ minDCF(0.001); the peer is scikit-learn's roc_curve (the usual EER route) on the same scores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from evaluation.metrics import cosine_scores, verification_metrics  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=1_000_000)
    a = p.parse_args()
    rng = np.random.default_rng(0)
    n_utt = 20000
    spk = rng.integers(0, 1000, n_utt)
    centers = rng.standard_normal((1000, 256))
    emb = {f"u{i:05d}": centers[spk[i]] + 1.5 * rng.standard_normal(256) for i in range(n_utt)}
    a_idx, b_idx = rng.integers(0, n_utt, a.trials), rng.integers(0, n_utt, a.trials)
    trials = [(f"u{i:05d}", f"u{j:05d}") for i, j in zip(a_idx, b_idx)]
    labels = spk[a_idx] == spk[b_idx]
    labels[: a.trials // 2] = True  # make half of them targets: pair each with a same-speaker utterance
    by_spk = {s: np.flatnonzero(spk == s) for s in range(1000)}
    for k in range(a.trials // 2):
        choices = by_spk[spk[a_idx[k]]]
        trials[k] = (trials[k][0], f"u{choices[rng.integers(len(choices))]:05d}")
    t0 = time.perf_counter()
    scores = cosine_scores(emb, trials)
    t1 = time.perf_counter()
    m = verification_metrics(scores, labels, (0.01, 0.001))
    eer, d1, d2 = m["eer"], m["mindcf_0.01"], m["mindcf_0.001"]
    t2 = time.perf_counter()
    print(
        f"{a.trials:,} trials ({labels.sum():,} target): cosine scoring {t1 - t0:.2f} s; "
        f"EER {100 * eer:.3f}% + minDCF(0.01) {d1:.4f} + minDCF(0.001) {d2:.4f} in {t2 - t1:.2f} s; "
        f"total {t2 - t0:.2f} s (goal <= 2 s)"
    )
    try:
        from sklearn.metrics import roc_curve
    except ImportError:
        print("scikit-learn not installed: no peer timing")
        return
    t3 = time.perf_counter()
    fpr, tpr, _ = roc_curve(labels, scores)
    i = np.nanargmin(np.abs((1 - tpr) - fpr))
    t4 = time.perf_counter()
    print(
        f"scikit-learn roc_curve EER alone: {t4 - t3:.2f} s (EER {100 * (fpr[i] + 1 - tpr[i]) / 2:.3f}%); "
        f"ours (EER + 2 minDCF) / sklearn (EER) = {(t2 - t1) / (t4 - t3):.2f}x"
    )


if __name__ == "__main__":
    main()
