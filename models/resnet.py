"""Thin ResNet34 (the common speaker-verification baseline; WeSpeaker's ResNet34-TSTP-emb256).

(batch, time, freq) -> MeanNorm [-> FreqAttention] -> (batch, 1, time, freq) -> conv3x3(m) -> BasicBlock
stages [3, 4, 6, 3] with widths m, 2m, 4m, 8m (strides 1, 2, 2, 2) -> temporal statistics pooling
over (channels x freq') -> Linear = embedding. m = 32, 80 bins, 256-dim: about 6.6 M parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from models.frontend import FrontEnd
from models.tdnn import stats_pool


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, c, time, freq)
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNet34(nn.Module):
    def __init__(
        self,
        feat_dim: int = 80,
        base_channels: int = 32,
        blocks: tuple[int, ...] = (3, 4, 6, 3),
        embedding_dim: int = 256,
        attention: dict | None = None,
    ):
        super().__init__()
        self.frontend = FrontEnd(feat_dim, attention)
        m = base_channels
        self.stem = nn.Sequential(nn.Conv2d(1, m, 3, padding=1, bias=False), nn.BatchNorm2d(m), nn.ReLU(inplace=True))
        stages, c_in, freq = [], m, feat_dim
        for i, n in enumerate(blocks):
            c_out, stride = m * 2**i, 1 if i == 0 else 2
            stages.append(
                nn.Sequential(*[BasicBlock(c_in if j == 0 else c_out, c_out, stride if j == 0 else 1) for j in range(n)])
            )
            c_in, freq = c_out, (freq - 1) // stride + 1
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(2 * c_in * freq, embedding_dim)
        self.emb_dim = embedding_dim
        self.min_frames = 2 ** (len(blocks) - 1)
        for mod in self.modules():
            if isinstance(mod, nn.Conv2d):
                nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")

    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        """The last 2-D map (batch, c, time', freq'), for CAM methods."""
        x = self.frontend(x).unsqueeze(1)  # (batch, time, freq) -> (batch, 1, time, freq)
        return self.stages(self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, time, freq) -> (batch, emb)
        x = self.feature_maps(x)  # (batch, c, time', freq')
        x = x.permute(0, 1, 3, 2).flatten(1, 2)  # (batch, c * freq', time')
        return self.fc(stats_pool(x))
