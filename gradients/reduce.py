"""From saliency maps to one weight per frequency bin (GFA's reduction).

v_f = mean over utterances of (mean over time of r(map[t, f])), r = |.| (default, matches the
published vectors), ReLU, or the signed value (which is about 0 under input mean normalisation: the
time-sum of the input gradient of a mean-normalised model is exactly 0 per bin). Every utterance
counts equally, whatever its length. Bin 0 of a Kaldi spectrogram is the log energy, not the DC
bin: ``bin0`` keeps it (GFA), sets it to its neighbour's value, or to the mean of the other bins.
"""

from __future__ import annotations

import numpy as np
from core.errors import NonFiniteError, UsageError

REDUCTIONS = ("abs", "relu", "signed")
BIN0 = ("keep", "neighbour", "mean")


def utterance_profile(m: np.ndarray, reduction: str = "abs") -> np.ndarray:
    """(time, freq) map -> (freq,) mean over time."""
    if reduction not in REDUCTIONS:
        raise UsageError(f"unknown reduction {reduction!r}; valid: {', '.join(REDUCTIONS)}")
    if not np.isfinite(m).all():
        raise NonFiniteError("NaN or inf in a saliency map")
    r = np.abs(m) if reduction == "abs" else np.maximum(m, 0) if reduction == "relu" else m
    return r.mean(axis=0)


def frequency_weights(profiles: list[np.ndarray], bin0: str = "keep") -> np.ndarray:
    """Mean of per-utterance profiles, with bin 0 handled as asked; float64 (freq,)."""
    if not profiles:
        raise UsageError("no saliency maps to reduce")
    if bin0 not in BIN0:
        raise UsageError(f"unknown bin-0 handling {bin0!r}; valid: {', '.join(BIN0)}")
    v = np.mean(np.stack(profiles), axis=0).astype(np.float64)
    if bin0 == "neighbour":
        v[0] = v[1]
    elif bin0 == "mean":
        v[0] = v[1:].mean()
    return v


def top_fraction_mask(m: np.ndarray, fraction: float = 0.05) -> np.ndarray:
    """Boolean (time, freq) mask of the top ``fraction`` points of |map| (ties broken by order)."""
    flat = np.abs(m).ravel()
    k = max(1, int(round(fraction * flat.size)))
    idx = np.argpartition(-flat, k - 1)[:k]
    mask = np.zeros(flat.size, dtype=bool)
    mask[idx] = True
    return mask.reshape(m.shape)
