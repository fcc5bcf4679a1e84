"""ECAPA-TDNN (Desplanques et al., 2020), with channel width C in {128, 256, 384, 512, 1024}.

(batch, time, freq) -> MeanNorm [-> FreqAttention] -> (batch, freq, time) -> TDNN block (k5) -> three
SE-Res2Net blocks (k3, dilation 2/3/4, scale 8, SE bottleneck 128) -> multi-layer feature
aggregation (concat, 1x1 conv to 3C) -> attentive statistics pooling with global context
(bottleneck 128) -> BN -> Linear(6C -> 192) [-> BN]. C = 512 on 80 bins: 6,194,048 parameters
(without the final BN), the size of SpeechBrain's ECAPA_TDNN. Convolutions use zero "same" padding
and the tensors stay channel-first throughout.
"""

from __future__ import annotations

import torch
from torch import nn

from models.frontend import FrontEnd
from core.errors import UsageError


class TDNNBlock(nn.Sequential):
    """Conv1d (same padding) -> ReLU -> BN over (batch, channels, time)."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 1, dilation: int = 1):
        super().__init__(
            nn.Conv1d(c_in, c_out, kernel, dilation=dilation, padding=dilation * (kernel - 1) // 2),
            nn.ReLU(inplace=True),
            nn.BatchNorm1d(c_out),
        )


class Res2Conv(nn.Module):
    """Res2Net hierarchy: split channels into ``scale`` groups; group i gets conv(x_i + y_{i-1})."""

    def __init__(self, c: int, kernel: int, dilation: int, scale: int = 8):
        super().__init__()
        if c % scale:
            raise UsageError(f"ECAPA: channels {c} must be divisible by res2net scale {scale}")
        self.scale = scale
        self.convs = nn.ModuleList(TDNNBlock(c // scale, c // scale, kernel, dilation) for _ in range(scale - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, c, time)
        parts = torch.chunk(x, self.scale, dim=1)  # scale x (batch, c / scale, time)
        out, y = [parts[0]], None
        for conv, p in zip(self.convs, parts[1:]):
            y = conv(p if y is None else p + y)
            out.append(y)
        return torch.cat(out, dim=1)


class SEBlock(nn.Module):
    def __init__(self, c: int, bottleneck: int = 128):
        super().__init__()
        self.fc = nn.Sequential(nn.Conv1d(c, bottleneck, 1), nn.ReLU(inplace=True), nn.Conv1d(bottleneck, c, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, c, time)
        return x * self.fc(x.mean(dim=2, keepdim=True))


class SERes2Block(nn.Module):
    def __init__(self, c: int, kernel: int, dilation: int, scale: int = 8, se_channels: int = 128):
        super().__init__()
        self.body = nn.Sequential(TDNNBlock(c, c), Res2Conv(c, kernel, dilation, scale), TDNNBlock(c, c), SEBlock(c, se_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + x


def _mean_std(x: torch.Tensor, w: torch.Tensor, eps: float = 1e-12) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted mean and std over time; x, w: (batch, c, time), w sums to 1 over time."""
    mean = (w * x).sum(dim=2)
    var = (w * (x - mean.unsqueeze(2)).pow(2)).sum(dim=2)
    return mean, torch.sqrt(var.clamp(min=eps))


class AttentiveStatsPool(nn.Module):
    """Channel- and context-dependent attentive statistics pooling with global context."""

    def __init__(self, c: int, bottleneck: int = 128):
        super().__init__()
        self.attention = nn.Sequential(TDNNBlock(3 * c, bottleneck), nn.Tanh(), nn.Conv1d(bottleneck, c, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, c, time) -> (batch, 2c)
        T = x.shape[2]
        mean, std = _mean_std(x, torch.full_like(x[:, :1], 1.0 / T))
        ctx = torch.cat([x, mean.unsqueeze(2).expand(-1, -1, T), std.unsqueeze(2).expand(-1, -1, T)], dim=1)
        w = torch.softmax(self.attention(ctx), dim=2)  # (batch, c, time), sums to 1 over time
        return torch.cat(_mean_std(x, w), dim=1)


class ECAPA_TDNN(nn.Module):  # noqa: N801 (registry key is the class name)
    def __init__(
        self,
        feat_dim: int = 80,
        channels: int = 512,
        embedding_dim: int = 192,
        scale: int = 8,
        se_channels: int = 128,
        attention_channels: int = 128,
        emb_bn: bool = False,
        attention: dict | None = None,
    ):
        super().__init__()
        self.frontend = FrontEnd(feat_dim, attention)
        c = channels
        self.layer1 = TDNNBlock(feat_dim, c, kernel=5)
        self.blocks = nn.ModuleList(SERes2Block(c, 3, d, scale, se_channels) for d in (2, 3, 4))
        self.mfa = TDNNBlock(3 * c, 3 * c)
        self.pool = AttentiveStatsPool(3 * c, attention_channels)
        self.pool_bn = nn.BatchNorm1d(6 * c)
        self.fc = nn.Linear(6 * c, embedding_dim)
        self.emb_bn = nn.BatchNorm1d(embedding_dim) if emb_bn else nn.Identity()
        self.emb_dim = embedding_dim
        self.min_frames = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, time, freq) -> (batch, emb)
        x = self.frontend(x).transpose(1, 2)  # (batch, time, freq) -> (batch, freq, time)
        x = self.layer1(x)  # (batch, C, time)
        outs = []
        for block in self.blocks:
            x = block(x)
            outs.append(x)
        x = self.mfa(torch.cat(outs, dim=1))  # (batch, 3C, time)
        return self.emb_bn(self.fc(self.pool_bn(self.pool(x))))  # (batch, emb)
