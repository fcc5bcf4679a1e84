"""Classification heads with their losses: softmax, AM-softmax, AAM-softmax (ArcFace), and a
margin scheduler. Each head maps embeddings (batch, emb) to logits (batch, classes) and
``loss(emb, labels)`` returns (mean cross-entropy, logits). ``cosine(emb)`` gives the unscaled,
margin-free cosines of the cosine heads (the GFA saliency target).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from core.errors import UsageError


class CosineLinear(nn.Module):
    """Bias-free cosine layer: cos(theta_j) = <e/|e|, W_j/|W_j|>, W Xavier-normal."""

    def __init__(self, emb_dim: int, num_classes: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_classes, emb_dim))
        nn.init.xavier_normal_(self.weight)

    def forward(self, emb: torch.Tensor) -> torch.Tensor:  # (batch, emb) -> (batch, classes)
        return F.linear(F.normalize(emb, dim=1), F.normalize(self.weight, dim=1))


class Softmax(nn.Module):
    """Plain linear classifier (with bias) and cross-entropy."""

    def __init__(self, emb_dim: int, num_classes: int, bias: bool = True):
        super().__init__()
        self.fc = nn.Linear(emb_dim, num_classes, bias=bias)
        self.margin = 0.0

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        return self.fc(emb)

    def cosine(self, emb: torch.Tensor) -> torch.Tensor:
        return F.linear(F.normalize(emb, dim=1), F.normalize(self.fc.weight, dim=1))

    def loss(self, emb: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.fc(emb)
        return F.cross_entropy(logits, labels), logits


class _MarginHead(nn.Module):
    def __init__(self, emb_dim: int, num_classes: int, margin: float, scale: float):
        super().__init__()
        if scale <= 0 or margin < 0:
            raise UsageError(f"{type(self).__name__}: need scale > 0 and margin >= 0, got {scale}, {margin}")
        self.head = CosineLinear(emb_dim, num_classes)
        self.margin, self.final_margin, self.scale = float(margin), float(margin), float(scale)

    def cosine(self, emb: torch.Tensor) -> torch.Tensor:
        return self.head(emb)

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        """Inference logits: s * cos (no margin)."""
        return self.scale * self.head(emb)

    def target_logit(self, cos_y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def loss(self, emb: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cos = self.head(emb)  # (batch, classes)
        one_hot = F.one_hot(labels, cos.shape[1]).bool()
        cos_y = cos[one_hot]  # (batch,)
        logits = torch.where(one_hot, self.target_logit(cos_y).unsqueeze(1).expand_as(cos), cos) * self.scale
        return F.cross_entropy(logits, labels), logits


class AMSoftmax(_MarginHead):
    """Additive margin: s * (cos(theta_y) - m)."""

    def __init__(self, emb_dim: int, num_classes: int, margin: float = 0.2, scale: float = 30.0):
        super().__init__(emb_dim, num_classes, margin, scale)

    def target_logit(self, cos_y: torch.Tensor) -> torch.Tensor:
        return cos_y - self.margin


class AAMSoftmax(_MarginHead):
    """Additive angular margin (ArcSoftmax): s * cos(theta_y + m), computed as
    cos*cos(m) - sin*sin(m) with sin = sqrt(clamp(1 - cos^2)), so no acos and finite gradients at
    cos = +-1. Where theta_y + m > pi (cos(theta_y + m) would rise again) the logit continues as
    cos(theta_y) - m*sin(m) (monotone, as insightface/WeSpeaker); ``easy_margin`` applies the margin
    only where cos(theta_y) > 0.
    """

    def __init__(self, emb_dim: int, num_classes: int, margin: float = 0.2, scale: float = 30.0, easy_margin: bool = False):
        super().__init__(emb_dim, num_classes, margin, scale)
        self.easy_margin = easy_margin

    def target_logit(self, cos_y: torch.Tensor) -> torch.Tensor:
        m = self.margin
        sin_y = torch.sqrt((1.0 - cos_y * cos_y).clamp(min=1e-12, max=1.0))
        phi = cos_y * math.cos(m) - sin_y * math.sin(m)
        if self.easy_margin:
            return torch.where(cos_y > 0, phi, cos_y)
        return torch.where(cos_y > math.cos(math.pi - m), phi, cos_y - m * math.sin(m))


class MarginScheduler:
    """Warm the head's margin up from ``initial`` to its configured value over ``warmup_steps``
    optimiser steps (linear, after ``start_step``). Call ``step()`` once per training step only
    (not during validation); ``state_dict``/``load_state_dict`` keep it across resumes."""

    def __init__(self, head: nn.Module, warmup_steps: int, start_step: int = 0, initial: float = 0.0):
        self.head, self.warmup, self.start, self.initial = head, int(warmup_steps), int(start_step), float(initial)
        self.final = float(getattr(head, "final_margin", getattr(head, "margin", 0.0)))
        self.steps = 0
        self._apply()

    def _apply(self) -> None:
        if not hasattr(self.head, "final_margin"):
            return
        if self.warmup <= 0:
            frac = 1.0 if self.steps >= self.start else 0.0
        else:
            frac = min(max((self.steps - self.start) / self.warmup, 0.0), 1.0)
        self.head.margin = self.initial + frac * (self.final - self.initial)

    def step(self) -> None:
        self.steps += 1
        self._apply()

    def state_dict(self) -> dict:
        return {"steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.steps = int(state["steps"])
        self._apply()
