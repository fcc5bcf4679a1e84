"""Input front end shared by every model: per-utterance mean normalisation, then the optional GFA
frequency-attention layer. Inputs are (batch, time, freq) log spectra; outputs keep that shape.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from core.errors import UsageError
from models.priors import check_prior, weights_vector


class MeanNorm(nn.Module):
    """x - mean over time, per utterance and per frequency bin (GFA ``Mean_Norm``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, time, freq)
        return x - x.mean(dim=1, keepdim=True)


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
        v, source = weights_vector(weights)
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
                raise UsageError(
                    f"attention: unknown key(s) {sorted(unknown)} or no 'prior'; valid: {', '.join(sorted(ATTENTION_KEYS))}"
                )
            prior = attention["prior"]
            if prior is None or isinstance(prior, (str, Path)):
                raise UsageError(
                    f"attention: prior {prior!r} is a name or path; models take the values (the entry "
                    "point resolves mel, published names and files: recipe/experiment.py:resolve_prior)"
                )
            prior = np.asarray(prior, dtype=np.float64)
            check_prior(prior, feat_dim, "values")
            self.attention = FreqAttention(
                prior, bool(attention.get("learn_prior", False)), attention.get("w_init", 2.0), attention.get("b_init", -1.0)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, time, freq)
        if x.dim() != 3 or x.shape[-1] != self.feat_dim:
            raise UsageError(f"expected input (batch, time, {self.feat_dim}), got {tuple(x.shape)}")
        x = self.norm(x)
        return self.attention(x) if self.attention is not None else x


def with_freq_attention(model: nn.Module, weights, learn_prior: bool = False) -> nn.Sequential:
    """``model`` (any module taking (batch, time, freq)) behind a GFA attention layer built from
    ``weights`` (a vector or a freq_weights.npy): the student side of the method for a foreign model."""
    return nn.Sequential(FreqAttention.from_weights(weights, learn_prior), model)
