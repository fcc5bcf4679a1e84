"""Everything about attention priors: the published GFA vectors, the mel prior, the checks a prior
passes, reading a weight vector from b_extract.sh's files, and the variants the prior experiment trains
(smoothed, shuffled, band indicator). models/frontend.py holds the layers that use them."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from core.errors import NotFoundError, UsageError

PRIOR_FILE = Path(__file__).with_name("priors") / "gfa_published.txt"
# published GFA priors (GFA gradients/constants.py), 161 bins of the 20 ms / 320-point spectrogram
PUBLISHED = {"vox1_clean": "VOX1_CLEAN", "vox1_aug": "VOX1_AUG", "vox2_clean": "VOX2_CLEAN"}


def read_published(name: str) -> np.ndarray:
    """One section (e.g. ``VOX1_CLEAN``) of the shipped prior file, as float64."""
    text = PRIOR_FILE.read_text()
    m = re.search(rf"^\[{name}\] n=(\d+)\n(.*?)(?:\n\n|\n#|\Z)", text, flags=re.S | re.M)
    if not m:
        raise NotFoundError(f"{PRIOR_FILE}: no section [{name}]")
    values = np.array(m.group(2).split(), dtype=np.float64)
    assert len(values) == int(m.group(1)), name
    return values


def mel_prior(n_bins: int, sample_rate: float = 16000.0) -> np.ndarray:
    """GFA's ``mel`` prior: mel density (mel per Hz) at ``n_bins`` points, divided by its max.

    Integer mel grid m = 0..floor(mel(Nyquist)); density 1/(f_m - f_{m-1}) at f_m (m >= 1), linearly
    interpolated at f_k = f_1 + k (f_max - f_1) / n_bins, k = 0..n_bins-1 (GFA's grid).
    """
    mel_max = 2595.0 * np.log10(1.0 + sample_rate / 2 / 700.0)
    mels = np.arange(int(np.floor(mel_max)) + 1, dtype=np.float64)
    hz = 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    density = 1.0 / np.diff(hz)  # at hz[1:]
    points = hz[1] + np.arange(n_bins) * (hz[-1] - hz[1]) / n_bins
    v = np.interp(points, hz[1:], density)
    return v / v.max()


def check_prior(v: np.ndarray, feat_dim: int, source: str) -> None:
    if v.ndim != 1:
        raise UsageError(f"attention prior {source}: a {'x'.join(map(str, v.shape))} array, not one value per bin")
    if len(v) != feat_dim:
        raise UsageError(f"attention prior {source}: {len(v)} values but the features have {feat_dim} bins")
    if not np.isfinite(v).all():
        bad = int(np.flatnonzero(~np.isfinite(v))[0])
        raise UsageError(f"attention prior {source}: non-finite value at bin {bad}")
    if (v < 0).any():
        raise UsageError(f"attention prior {source}: negative value at bin {int(np.flatnonzero(v < 0)[0])}")
    if not (v > 0).any():
        raise UsageError(f"attention prior {source}: all values are zero")


def weights_vector(weights) -> tuple[np.ndarray, str]:
    """(the float64 vector, where it came from) of a weight vector given as an array or tensor, or as a
    file of one (b_extract.sh's ``freq_weights.npy`` or ``.txt``)."""
    if isinstance(weights, (str, Path)):
        path = Path(weights)
        return np.asarray(np.load(path) if path.suffix == ".npy" else np.loadtxt(path), dtype=np.float64), str(path)
    v = weights.detach().cpu() if isinstance(weights, torch.Tensor) else weights
    return np.asarray(v, dtype=np.float64), "given vector"


# variants of a prior (the prior experiment's controls)
def smooth_alternation(v: np.ndarray, first: int = 1) -> np.ndarray:
    """[1/4, 1/2, 1/4] over bins ``first``.. (edges repeated); bins before ``first`` (the log-energy
    bin) are kept. The filter's response is 1 at zero frequency and 0 at the period-2 frequency, so it
    removes the stride-2 convolution's even/odd zig-zag completely and leaves a linear trend as it is."""
    v = np.asarray(v, dtype=np.float64)
    x = np.concatenate([v[first : first + 1], v[first:], v[-1:]])  # (freq - first + 2,) edge-padded
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
