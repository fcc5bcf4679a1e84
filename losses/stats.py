"""Intervals for comparing systems: over seeds (Student's t) and over test speakers (a paired
bootstrap that resamples speakers, so every trial of a drawn speaker pair comes along).

Speaker bootstrap: draw S speakers with replacement from the S test speakers; a trial whose enrolment
speaker was drawn a times and test speaker b times counts a*b times (a target trial, a = b, counts a
times: its speaker's trials are copied once per draw). Both systems are scored on the same draws, so
the interval is for their difference on one test population.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import t as student_t

from losses.metrics import verification_metrics


def t_interval(x, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of the mean of ``x`` with Student's t over len(x) - 1 degrees of freedom;
    (mean, nan, nan) for fewer than two values."""
    x = np.asarray(x, dtype=np.float64)
    m = float(x.mean())
    if len(x) < 2:
        return m, float("nan"), float("nan")
    half = student_t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return m, m - float(half), m + float(half)


def speaker_weights(enrol_spk: np.ndarray, test_spk: np.ndarray, n_boot: int, seed: int = 0) -> np.ndarray:
    """(n_boot, trials) trial counts of ``n_boot`` speaker resamples (module docstring)."""
    speakers, codes = np.unique(np.concatenate([enrol_spk, test_spk]), return_inverse=True)
    e, t = codes[:len(enrol_spk)], codes[len(enrol_spk):]
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(speakers), size=(n_boot, len(speakers)))  # (n_boot, speakers drawn)
    counts = np.stack([np.bincount(d, minlength=len(speakers)) for d in draws])  # (n_boot, speakers)
    same = e == t
    return np.where(same, counts[:, e], counts[:, e] * counts[:, t]).astype(np.float64)  # (n_boot, trials)


def bootstrap_metrics(systems: list[np.ndarray], labels: np.ndarray, weights: np.ndarray,
                      keys=("eer", "mindcf_0.01", "mindcf_0.001")) -> np.ndarray:
    """(systems, resamples, keys) metrics of each score vector (all on the same trials; ``labels`` bool)
    under every resample of ``weights`` (n_boot, trials); a resample without target or nontarget
    trials is NaN."""
    labels = np.asarray(labels, dtype=bool)
    out = np.full((len(systems), len(weights), len(keys)), np.nan)
    for j, w in enumerate(weights):
        if not (w[labels].any() and w[~labels].any()):
            continue
        for i, s in enumerate(systems):
            m = verification_metrics(s, labels, weights=w)
            out[i, j] = [m[k] for k in keys]
    return out


def quantile_interval(x, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` interval of the finite values of ``x``."""
    x = np.asarray(x, dtype=np.float64)
    lo, hi = np.quantile(x[np.isfinite(x)], [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)
