"""x-vector TDNN and TDNN-s of the GFA paper (GFA ``models/TDNNs.py``, as intended; it could not be
built as shipped).

(batch, time, freq) -> MeanNorm [-> FreqAttention] -> 5 frame layers (Conv1d -> ReLU -> BN, no
padding, context 15 frames) -> mean + std pooling -> segment6 (Linear -> ReLU -> BN) -> segment7
(Linear -> ReLU -> BN). ``forward`` returns segment7 (what the classifier sees); ``embed`` returns the
configured ``embedding_layer``: segment7 (GFA), segment6, or segment6_affine (Kaldi's tdnn6.affine,
before the ReLU). Channels (512, 512, 512, 512, 1500) on 161 bins: 4.695 M; TDNN-s (256 x 4, 768): 1.787 M.
"""

from __future__ import annotations

import torch
from torch import nn

from models.frontend import FrontEnd
from core.errors import UsageError

KERNELS = (5, 3, 3, 1, 1)
DILATIONS = (1, 2, 3, 1, 1)
EMBEDDING_LAYERS = ("segment7", "segment6", "segment6_affine")


def stats_pool(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """(batch, channels, time) -> (batch, 2 * channels): mean and population std over time."""
    mean = x.mean(dim=2)
    var = (x - mean.unsqueeze(2)).pow(2).mean(dim=2)
    return torch.cat([mean, torch.sqrt(var + eps)], dim=1)


class TDNN(nn.Module):
    def __init__(
        self,
        feat_dim: int = 161,
        channels: tuple[int, ...] = (512, 512, 512, 512, 1500),
        segment_dims: tuple[int, int] = (512, 256),
        embedding_layer: str = "segment7",
        dropout: float = 0.0,
        attention: dict | None = None,
    ):
        super().__init__()
        if len(channels) != 5:
            raise UsageError(f"TDNN: channels needs 5 widths (frame1-5), got {list(channels)}")
        if embedding_layer not in EMBEDDING_LAYERS:
            raise UsageError(f"TDNN: embedding_layer {embedding_layer!r}; valid: {', '.join(EMBEDDING_LAYERS)}")
        self.frontend = FrontEnd(feat_dim, attention)
        layers, c_in = [], feat_dim
        for c, k, d in zip(channels, KERNELS, DILATIONS):
            layers += [nn.Conv1d(c_in, c, k, dilation=d), nn.ReLU(inplace=True), nn.BatchNorm1d(c)]
            c_in = c
        self.frames = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.segment6 = nn.Linear(2 * channels[-1], segment_dims[0])
        self.segment6_post = nn.Sequential(nn.ReLU(inplace=False), nn.BatchNorm1d(segment_dims[0]))
        self.segment7 = nn.Sequential(
            nn.Linear(segment_dims[0], segment_dims[1]), nn.ReLU(inplace=True), nn.BatchNorm1d(segment_dims[1])
        )
        self.embedding_layer = embedding_layer
        self.emb_dim = segment_dims[1]
        self.min_frames = 1 + sum((k - 1) * d for k, d in zip(KERNELS, DILATIONS))  # 15
        for m in self.modules():
            if isinstance(m, nn.Conv1d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _segment6(self, x: torch.Tensor) -> torch.Tensor:
        x = self.frontend(x).transpose(1, 2)  # (batch, time, freq) -> (batch, freq, time)
        x = self.dropout(self.frames(x))  # (batch, channels, time - 14)
        return self.segment6(stats_pool(x))  # (batch, segment6) before its ReLU

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, time, freq) -> (batch, emb)
        return self.segment7(self.segment6_post(self._segment6(x)))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The configured embedding layer's output."""
        if self.embedding_layer == "segment7":
            return self.forward(x)
        a = self._segment6(x)
        return a if self.embedding_layer == "segment6_affine" else self.segment6_post(a)
