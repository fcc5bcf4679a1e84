"""Input front end shared by every model: per-utterance mean normalisation, then the optional GFA
frequency-attention layer. Inputs are (batch, time, freq) log spectra; outputs keep that shape.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from torch import nn
from core.errors import NotFoundError, UsageError

PRIOR_FILE = Path(__file__).with_name("priors") / "gfa_published.txt"
# published GFA priors (GFA gradients/constants.py), 161 bins of the 20 ms / 320-point spectrogram
PUBLISHED = {"vox1_clean": "VOX1_CLEAN", "vox1_aug": "VOX1_AUG", "vox2_clean": "VOX2_CLEAN"}
NAMED_PRIORS = ("mel", *PUBLISHED)


class MeanNorm(nn.Module):
    """x - mean over time, per utterance and per frequency bin (GFA ``Mean_Norm``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, time, freq)
        return x - x.mean(dim=1, keepdim=True)


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


class FreqAttention(nn.Module):
    """GFA frequency attention: y[b,t,f] = x[b,t,f] * sigmoid(w * v[f] / max(v) + b).

    ``w``, ``b`` are learnable scalars (init 2 and -1, so gains start in [0.27, 0.73]); the
    max-normalised prior ``v`` is a buffer (saved in checkpoints) unless ``learn_prior`` makes it a
    per-bin parameter (beyond the paper).
    """

    def __init__(self, prior: np.ndarray, learn_prior: bool = False, w_init: float = 2.0, b_init: float = -1.0):
        super().__init__()
        v = torch.as_tensor(np.asarray(prior) / np.max(prior), dtype=torch.float32)  # (freq,)
        if learn_prior:
            self.prior = nn.Parameter(v)
        else:
            self.register_buffer("prior", v)
        self.w = nn.Parameter(torch.tensor(float(w_init)))
        self.b = nn.Parameter(torch.tensor(float(b_init)))

    @classmethod
    def from_weights(cls, weights, learn_prior: bool = False) -> "FreqAttention":
        """The layer from a (freq,) weight vector, or from a file of one (``b_extract.sh``'s
        ``freq_weights.npy`` or ``.txt``): put it in front of any model that takes (batch, time, freq)."""
        source = str(weights) if isinstance(weights, (str, Path)) else "given vector"
        if isinstance(weights, (str, Path)):
            path = Path(weights)
            v = np.load(path) if path.suffix == ".npy" else np.loadtxt(path)
        else:
            v = np.asarray(weights.detach().cpu() if isinstance(weights, torch.Tensor) else weights, dtype=np.float64)
        v = np.asarray(v, dtype=np.float64)
        check_prior(v, v.shape[0] if v.ndim == 1 else -1, source)
        return cls(v, learn_prior)

    def gains(self) -> torch.Tensor:  # (freq,)
        return torch.sigmoid(self.w * self.prior + self.b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, time, freq)
        return x * self.gains()

    def extra_repr(self) -> str:
        return f"bins={self.prior.numel()}, learn_prior={isinstance(self.prior, nn.Parameter)}"


ATTENTION_KEYS = {"prior", "learn_prior", "w_init", "b_init"}


class FrontEnd(nn.Module):
    """MeanNorm, then FreqAttention when ``attention`` (a dict: prior (the values, (freq,)), learn_prior,
    w_init, b_init)."""

    def __init__(self, feat_dim: int, attention: dict | None = None):
        super().__init__()
        self.feat_dim = feat_dim
        self.norm = MeanNorm()
        self.attention = None
        if attention:
            unknown = set(attention) - ATTENTION_KEYS
            if unknown or "prior" not in attention:
                raise UsageError(f"attention: unknown key(s) {sorted(unknown)} or no 'prior'; "
                                 f"valid: {', '.join(sorted(ATTENTION_KEYS))}")
            prior = attention["prior"]
            if prior is None or isinstance(prior, (str, Path)):
                raise UsageError(f"attention: prior {prior!r} is a name or path; models take the values (the entry "
                                 "point resolves mel, published names and files: recipe/experiment.py:resolve_prior)")
            prior = np.asarray(prior, dtype=np.float64)
            check_prior(prior, feat_dim, "values")
            self.attention = FreqAttention(prior, bool(attention.get("learn_prior", False)),
                                           attention.get("w_init", 2.0), attention.get("b_init", -1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, time, freq)
        if x.dim() != 3 or x.shape[-1] != self.feat_dim:
            raise UsageError(f"expected input (batch, time, {self.feat_dim}), got {tuple(x.shape)}")
        x = self.norm(x)
        return self.attention(x) if self.attention is not None else x


def with_freq_attention(model: nn.Module, weights, learn_prior: bool = False) -> nn.Sequential:
    """``model`` (any module taking (batch, time, freq)) behind a GFA attention layer built from
    ``weights`` (a vector or a freq_weights.npy): the student side of the method for a foreign model."""
    return nn.Sequential(FreqAttention.from_weights(weights, learn_prior), model)
