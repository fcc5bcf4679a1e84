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

from core.errors import UsageError


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
    e, t = codes[: len(enrol_spk)], codes[len(enrol_spk) :]
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(speakers), size=(n_boot, len(speakers)))  # (n_boot, speakers drawn)
    counts = np.stack([np.bincount(d, minlength=len(speakers)) for d in draws])  # (n_boot, speakers)
    same = e == t
    return np.where(same, counts[:, e], counts[:, e] * counts[:, t]).astype(np.float64)  # (n_boot, trials)


def bootstrap_metrics(
    systems: list[np.ndarray], labels: np.ndarray, weights: np.ndarray, keys=("eer", "mindcf_0.01", "mindcf_0.001")
) -> np.ndarray:
    """(systems, resamples, keys) metrics of each score vector (all on the same trials; ``labels`` bool)
    under every resample of ``weights`` (n_boot, trials); a resample without target or nontarget
    trials is NaN. Each system's scores are sorted once, and the resamples' error rates are cumulative
    sums over that order, a block of resamples at a time (``weighted_metrics``): the values
    ``verification_metrics(s, labels, weights=w)`` gives, without a sort per resample."""
    labels = np.asarray(labels, dtype=bool)
    weights = np.asarray(weights, dtype=np.float64)
    out = np.full((len(systems), len(weights), len(keys)), np.nan)
    block = max(1, 2**24 // max(1, labels.size))  # resamples per block: about 128 MB of float64 per array
    for i, s in enumerate(systems):
        order = np.argsort(np.asarray(s, dtype=np.float64), kind="stable")
        lab = labels[order]  # (trials,) in score order
        for a in range(0, len(weights), block):
            out[i, a : a + block] = weighted_metrics(weights[a : a + block][:, order], lab, keys)
    return out


def weighted_metrics(w: np.ndarray, lab: np.ndarray, keys) -> np.ndarray:
    """(resamples, keys) EER / minDCF of one system from (resamples, trials) weights and labels, both
    in ascending score order (evaluation.metrics.error_rates, _eer_from_rates and _min_dcf_from_rates,
    row-wise); NaN rows where a resample has no target or no nontarget weight. ``w`` is overwritten."""
    fnr = w * lab
    np.cumsum(fnr, axis=1, out=fnr)  # target weight rejected at each threshold
    w *= ~lab
    fpr = np.cumsum(w, axis=1, out=w)  # nontarget weight rejected
    n_tar, n_non = fnr[:, -1:].copy(), fpr[:, -1:].copy()
    ok = (n_tar[:, 0] > 0) & (n_non[:, 0] > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        fnr /= n_tar
        fpr /= n_non
    np.subtract(1.0, fpr, out=fpr)  # nontargets still accepted
    cols, tmp = [], np.empty_like(fnr)
    for k in keys:
        if k == "eer":
            cols.append(_eer_rows(fnr, fpr))
            continue
        p = float(k.removeprefix("mindcf_"))
        np.multiply(fnr, p, out=tmp)
        tmp += fpr * (1.0 - p)
        cols.append(tmp.min(axis=1) / min(p, 1.0 - p))
    out = np.stack(cols, axis=1)
    out[~ok] = np.nan
    return out


def _eer_rows(fnr: np.ndarray, fpr: np.ndarray) -> np.ndarray:
    """Per row, the EER of ``_eer_from_rates``: the first point where fnr >= fpr (the last point always
    is one), linearly interpolated with the point before it ('accept everything', (0, 1), before the first)."""
    r = np.arange(len(fnr))
    k = np.argmax(fnr >= fpr, axis=1)  # (resamples,)
    j = np.maximum(k - 1, 0)
    fnr0, fpr0 = np.where(k > 0, fnr[r, j], 0.0), np.where(k > 0, fpr[r, j], 1.0)
    d0, d1 = fpr0 - fnr0, fnr[r, k] - fpr[r, k]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(d0 + d1 > 0, d0 / (d0 + d1), 0.0)
    return fnr0 + t * (fnr[r, k] - fnr0)


def quantile_interval(x, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` interval of the finite values of ``x``."""
    x = np.asarray(x, dtype=np.float64)
    lo, hi = np.quantile(x[np.isfinite(x)], [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def two_level_differences(a: np.ndarray, b: np.ndarray, n_boot: int | None = None, seed: int = 0) -> np.ndarray:
    """(resamples,) two-level bootstrap of the mean paired difference a - b.

    ``a`` and ``b`` are (seeds, resamples) metrics of two systems, row i of both trained with seed i
    and column j of both measured under the same test-speaker resample j (``bootstrap_metrics`` with
    one ``speaker_weights``). Replicate j draws len(seeds) seeds with replacement and averages their
    differences under speaker resample j, so training noise (seeds) and the test population (speakers)
    both vary. NaN resamples (no target or no nontarget trial) stay NaN."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise UsageError(f"want two (seeds, resamples) arrays of one shape, got {a.shape} and {b.shape}")
    d = a - b  # (seeds, resamples)
    n_seeds, n_res = d.shape
    n_boot = n_res if n_boot is None else n_boot
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, n_seeds, size=(n_boot, n_seeds))  # (replicates, seeds drawn)
    cols = np.arange(n_boot) % n_res  # replicate j uses speaker resample j (cycled if more replicates)
    return d[seeds, cols[:, None]].mean(axis=1)  # (replicates,)


def bootstrap_p(diff) -> float:
    """Two-sided bootstrap p-value of 'no difference': twice the smaller tail share at 0, with the
    (count + 1) / (n + 1) correction so that it is never 0."""
    x = np.asarray(diff, dtype=np.float64)
    x = x[np.isfinite(x)]
    if not len(x):
        return float("nan")
    tail = min((x <= 0).sum(), (x >= 0).sum())
    return float(min(1.0, 2 * (tail + 1) / (len(x) + 1)))


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (same order as given): the i-th smallest p times (m - i + 1),
    made non-decreasing, capped at 1."""
    p = np.asarray(pvalues, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    m = len(p)
    adj = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def holm_levels(pvalues, level: float = 0.95) -> np.ndarray:
    """Interval level of each hypothesis under Holm: the i-th smallest p gets 1 - alpha / (m - i + 1),
    so an interval excludes 0 exactly where Holm's step rejects at that step's level."""
    p = np.asarray(pvalues, dtype=np.float64)
    alpha, m = 1 - level, len(p)
    out = np.empty(m)
    out[np.argsort(p, kind="stable")] = 1 - alpha / (m - np.arange(m))
    return out


def min_detectable(sd: float, n: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true paired difference that a two-sided t test on ``n`` paired seeds at ``alpha``
    detects with ``power``: (t(1 - alpha/2, n - 1) + t(power, n - 1)) * sd / sqrt(n); inf below 2 seeds."""
    if n < 2 or not np.isfinite(sd):
        return float("inf")
    df = n - 1
    return float((student_t.ppf(1 - alpha / 2, df) + student_t.ppf(power, df)) * sd / np.sqrt(n))


def seeds_needed(sd: float, delta: float, alpha: float = 0.05, power: float = 0.8, most: int = 1000) -> int:
    """The fewest paired seeds whose ``min_detectable`` is at most ``delta`` (``most`` + 1 if none is)."""
    for n in range(2, most + 1):
        if min_detectable(sd, n, alpha, power) <= delta:
            return n
    return most + 1


def dcf_supported(n_nontarget: int, p_target: float, false_alarms: float = 10.0) -> bool:
    """Whether a minDCF at ``p_target`` rests on enough nontarget trials: its operating point sits near
    a false-alarm rate of about p_target, so ``false_alarms`` / p_target nontargets give that many
    false alarms to estimate it from."""
    return n_nontarget >= false_alarms / p_target
