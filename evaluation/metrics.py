"""Verification metrics: EER and minDCF (Kaldi ``compute_min_dcf.py`` definition), DET points,
cosine scoring and adaptive s-norm. Vectorised: one sort of all scores, O(N log N).
"""

from __future__ import annotations

import numpy as np
from core.errors import NotFoundError, UsageError


def error_rates(
    scores: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fnr, fpr, thresholds) at every sorted score, as Kaldi's ``ComputeErrorRates``: at threshold
    s_i (ascending, ties in input order), trials with score <= s_i are rejected. ``weights`` (one
    count per trial, e.g. a bootstrap resample's) counts each trial that many times."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    w = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=np.float64)
    n_tar, n_non = w[labels].sum(), w[~labels].sum()
    if n_tar == 0 or n_non == 0:
        raise UsageError(f"need target and nontarget trials, got {n_tar:g} and {n_non:g}")
    order = np.argsort(scores, kind="stable")
    lab, w = labels[order], w[order]
    fnr = np.cumsum(w * lab) / n_tar  # targets rejected
    fpr = 1.0 - np.cumsum(w * ~lab) / n_non  # nontargets still accepted
    return fnr, fpr, scores[order]


def _eer_from_rates(fnr, fpr, thr) -> tuple[float, float]:
    # prepend the "accept everything" point (fnr 0, fpr 1)
    fnr, fpr = np.concatenate([[0.0], fnr]), np.concatenate([[1.0], fpr])
    thr = np.concatenate([[thr[0] - 1e-9], thr])
    i = int(np.argmax(fnr >= fpr))  # first point past the crossing
    if i == 0:
        return 0.0, float(thr[0])
    d0, d1 = fpr[i - 1] - fnr[i - 1], fnr[i] - fpr[i]  # both >= 0
    w = d0 / (d0 + d1) if d0 + d1 > 0 else 0.0
    return float(fnr[i - 1] + w * (fnr[i] - fnr[i - 1])), float(thr[i - 1] + w * (thr[i] - thr[i - 1]))


def _min_dcf_from_rates(fnr, fpr, thr, p_target, c_miss=1.0, c_fa=1.0) -> tuple[float, float]:
    c_det = c_miss * fnr * p_target + c_fa * fpr * (1.0 - p_target)
    i = int(np.argmin(c_det))
    return float(c_det[i] / min(c_miss * p_target, c_fa * (1.0 - p_target))), float(thr[i])


def compute_eer(scores, labels) -> tuple[float, float]:
    """(EER, threshold): where the miss and false-alarm rates cross, linearly interpolated between
    the two operating points that bracket the crossing."""
    return _eer_from_rates(*error_rates(scores, labels))


def compute_min_dcf(scores, labels, p_target: float = 0.01, c_miss: float = 1.0, c_fa: float = 1.0) -> tuple[float, float]:
    """(normalised minDCF, threshold) exactly as Kaldi's ``sid/compute_min_dcf.py``."""
    return _min_dcf_from_rates(*error_rates(scores, labels), p_target, c_miss, c_fa)


def verification_metrics(scores, labels, p_targets=(0.01, 0.001), weights=None) -> dict[str, float]:
    """EER and minDCF at each p_target from one sort of the scores (``weights``: see error_rates)."""
    rates = error_rates(scores, labels, weights)
    out = {"eer": _eer_from_rates(*rates)[0]}
    for p in p_targets:
        out[f"mindcf_{p:g}"] = _min_dcf_from_rates(*rates, p)[0]
    return out


def operating_points(scores, labels, p_targets=(0.01, 0.001)) -> dict[str, dict[str, float]]:
    """The DET operating points a verification report names: ``eer`` and ``mindcf_<p>`` each with
    its value, threshold and (fpr, fnr) there; the EER point is (eer, eer) by definition."""
    fnr, fpr, thr = error_rates(scores, labels)
    eer, eer_thr = _eer_from_rates(fnr, fpr, thr)
    out = {"eer": {"value": eer, "threshold": eer_thr, "fpr": eer, "fnr": eer}}
    for p in p_targets:
        c_det = fnr * p + fpr * (1.0 - p)
        i = int(np.argmin(c_det))
        out[f"mindcf_{p:g}"] = {
            "value": float(c_det[i] / min(p, 1.0 - p)),
            "threshold": float(thr[i]),
            "fpr": float(fpr[i]),
            "fnr": float(fnr[i]),
        }
    return out


def _unit_rows(m: np.ndarray, dtype=np.float32) -> np.ndarray:
    """Rows scaled to unit length: (n, emb)."""
    m = np.asarray(m, dtype=dtype)
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)


def _pair_positions(keys: list[str], trials) -> tuple[np.ndarray, np.ndarray]:
    """Row positions in ``keys`` of each trial's enrol and test utterance."""
    index = {k: i for i, k in enumerate(keys)}
    return _positions(index, [t[0] for t in trials]), _positions(index, [t[1] for t in trials])


def _positions(index: dict[str, int], names) -> np.ndarray:
    try:
        return np.fromiter(map(index.__getitem__, names), dtype=np.int64, count=len(names))
    except KeyError as e:
        missing = [u for u in names if u not in index]
        raise NotFoundError(f"{len(missing)} trial utterance(s) have no embedding, first {e.args[0]!r}") from None


def cosine_scores(emb: dict[str, np.ndarray], trials, chunk: int = 32768) -> np.ndarray:
    """Cosine similarity of each (enrol, test) pair; every utterance must have an embedding."""
    keys = sorted(emb)
    a, b = _pair_positions(keys, trials)
    m = _unit_rows(np.stack([emb[k] for k in keys]))  # (utterances, emb)
    out = np.empty(len(a), dtype=np.float64)
    for i in range(0, len(a), chunk):  # cache-sized (chunk, emb) blocks; einsum is slower here
        out[i : i + chunk] = (m[a[i : i + chunk]] * m[b[i : i + chunk]]).sum(axis=1)
    return out


def cohort_stats(
    m: np.ndarray, cohort: np.ndarray, top_k: int = 300, block: int | None = None, block_mb: float = 256.0
) -> tuple[np.ndarray, np.ndarray]:
    """(mean, sd) per row of ``m`` (n, emb) of its ``top_k`` highest cosines to the ``cohort`` (c, emb).

    Computed in blocks of rows in float32 with ``np.partition`` (no full sort), so the memory is
    block x cohort x 4 bytes whatever the number of utterances; by default the block holds at most
    ``block_mb`` of scores (about 11,000 rows for a 5,994-speaker cohort, 450 for 148,000 cohort
    utterances). The statistics themselves are taken in float64."""
    c = _unit_rows(cohort, np.float32)  # (cohort, emb)
    k = min(top_k, len(c))
    block = block or max(1, int(block_mb * 2**20 // (4 * max(len(c), 1))))
    mu, sd = np.empty(len(m)), np.empty(len(m))
    for s in range(0, len(m), block):
        sims = _unit_rows(m[s : s + block], np.float32) @ c.T  # (rows, cohort)
        top = np.partition(sims, len(c) - k, axis=1)[:, len(c) - k :].astype(np.float64)  # (rows, k) largest
        mu[s : s + block], sd[s : s + block] = top.mean(axis=1), np.maximum(top.std(axis=1), 1e-9)
    return mu, sd


def as_norm(scores: np.ndarray, emb: dict[str, np.ndarray], trials, cohort: np.ndarray, top_k: int = 300) -> np.ndarray:
    """Adaptive s-norm: each side's score statistics over its top_k most similar cohort embeddings."""
    keys = sorted({u for pair in trials for u in pair})
    a, b = _pair_positions(keys, trials)
    mu, sd = cohort_stats(np.stack([emb[k] for k in keys]), cohort, top_k)
    return 0.5 * ((scores - mu[a]) / sd[a] + (scores - mu[b]) / sd[b])


def det_points(scores, labels, max_points: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, fnr) along the DET curve, thinned to at most ``max_points``."""
    fnr, fpr, _ = error_rates(scores, labels)
    step = max(1, len(fnr) // max_points)
    return fpr[::step], fnr[::step]
