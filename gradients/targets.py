"""What a saliency map explains: a scalar per example, as a function of the raw input.

Each target is ``fn(x, rows) -> (batch,)`` where x is (batch, time, freq) and ``rows`` indexes the
per-example target data (class label or reference embedding) for every row of x, so the path methods
can flatten (utterance, step) pairs into one batch.

- ``cosine``: cos(theta_y) of the true class on the bias-free cosine head, without margin or scale
  (the GFA prior's target);
- ``softmax``: softmax probability of the true class over the unscaled cosines (the 2023 study);
- ``verification``: cosine between the utterance's embedding and a reference embedding (e.g. its
  speaker's mean embedding), for models trained without a classifier.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from core.errors import UsageError

TARGETS = ("cosine", "softmax", "verification")


def make_target(
    kind: str,
    model: nn.Module,
    head: nn.Module | None = None,
    labels: torch.Tensor | None = None,
    references: torch.Tensor | None = None,
):
    """``fn(x, rows)``; ``labels`` (n,) for cosine/softmax, ``references`` (n, emb) for verification."""
    if kind not in TARGETS:
        raise UsageError(f"unknown target {kind!r}; valid: {', '.join(TARGETS)}")
    if kind in ("cosine", "softmax"):
        if head is None or not hasattr(head, "cosine") or labels is None:
            raise UsageError(f"target {kind!r} needs a cosine head and labels")

        def fn(x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
            cos = head.cosine(model(x))  # (batch, classes), unscaled, no margin
            y = labels.to(cos.device)[rows.to(cos.device)]
            if kind == "cosine":
                return cos.gather(1, y[:, None]).squeeze(1)
            return torch.softmax(cos, dim=1).gather(1, y[:, None]).squeeze(1)

        return fn
    if references is None:
        raise UsageError("target 'verification' needs reference embeddings")
    refs = F.normalize(references.float(), dim=1)

    def fn_v(x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        e = F.normalize(model(x), dim=1)  # (batch, emb)
        return (e * refs.to(e.device)[rows.to(e.device)]).sum(dim=1)

    return fn_v


class CosineOutputs(nn.Module):
    """model + cosine head as one module returning the unscaled cosines (batch, classes): the
    single-tensor forward that Captum and similar libraries expect."""

    def __init__(self, model: nn.Module, head: nn.Module):
        super().__init__()
        self.model, self.head = model, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, time, freq) -> (batch, classes)
        return self.head.cosine(self.model(x))
