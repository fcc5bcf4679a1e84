"""Parameter and MAC counts of a model (used by steps.model_info and the tests)."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(module: nn.Module) -> int:
    """Learnable parameters (BN running statistics and fixed buffers are not counted)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@torch.no_grad()
def count_macs(model: nn.Module, frames: int, feat_dim: int) -> int:
    """Multiply-accumulates of one forward pass on a (1, frames, feat_dim) input (eval mode)."""
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter:
        model(torch.zeros(1, frames, feat_dim))
    model.train(was_training)
    return counter.get_total_flops() // 2


def layer_table(model: nn.Module) -> list[tuple[str, str, int]]:
    """(name, module type, own parameters) for every leaf module that holds parameters or is a gate."""
    rows = []
    for name, mod in model.named_modules():
        own = sum(p.numel() for p in mod.parameters(recurse=False))
        if own or (not list(mod.children()) and name):
            rows.append((name or "(root)", type(mod).__name__ + (f"({mod.extra_repr()})" if mod.extra_repr() else ""), own))
    return rows
