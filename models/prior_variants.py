"""Variants of a frequency-weight vector for the prior experiment (local/prior_table.sh): a smoothing
that removes the even/odd bin alternation, a shuffle that keeps the values and breaks their places,
and the indicator of a known band. Vectors are (freq,), bin 0 of a Kaldi spectrogram being log energy.
"""
from __future__ import annotations

import numpy as np
from core.errors import UsageError


def smooth_alternation(v: np.ndarray, first: int = 1) -> np.ndarray:
    """[1/4, 1/2, 1/4] over bins ``first``.. (edges repeated); bins before ``first`` (the log-energy
    bin) are kept. The filter's response is 1 at zero frequency and 0 at the period-2 frequency, so it
    removes the stride-2 convolution's even/odd zig-zag completely and leaves a linear trend as it is."""
    v = np.asarray(v, dtype=np.float64)
    x = np.concatenate([v[first:first + 1], v[first:], v[-1:]])  # (freq - first + 2,) edge-padded
    out = v.copy()
    out[first:] = 0.25 * x[:-2] + 0.5 * x[1:-1] + 0.25 * x[2:]
    return out


def shuffled(v: np.ndarray, seed: int | tuple[int, ...] = 0, first: int = 1) -> np.ndarray:
    """The same values in a seeded random order of bins ``first``.. ; bins before ``first`` (the
    log-energy bin, which is not a frequency) keep their place. ``seed`` may be a tuple, e.g.
    (shuffle seed, student seed), to draw one permutation per student."""
    v = np.asarray(v, dtype=np.float64)
    order = np.r_[np.arange(first), first + np.random.default_rng(seed).permutation(len(v) - first)]  # (freq,)
    return v[order]


def band_indicator(hz: np.ndarray, band: tuple[float, float]) -> np.ndarray:
    """1 for bins whose centre lies in [low, high] Hz, 0 elsewhere (and for bins without a frequency,
    NaN in ``hz``, as the log-energy bin)."""
    hz = np.asarray(hz, dtype=np.float64)
    inside = np.isfinite(hz) & (hz >= band[0]) & (hz <= band[1])
    if not inside.any():
        raise UsageError(f"no feature bin lies in {band[0]:g}-{band[1]:g} Hz")
    return inside.astype(np.float64)
