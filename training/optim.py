"""Optimisers and LR schedulers: literal registries keyed by class name.

Each entry lists the config keys its class takes (with defaults, types and ranges); a scheduler also
says when the loop steps it: once per training ``batch``, once per ``epoch``, or once per epoch on
the validation loss (``plateau``, the paper's ReduceLROnPlateau). The loop names no scheduler.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from core.spec import Spec
from training.budget import fraction_steps

LR = Spec(0.1, float, lo=0.0, lo_open=True)  # finite (Spec), no upper bound: the NaN-loss path is tested with 1e30
DECAY = Spec(0.0, float, lo=0.0)


@dataclass(frozen=True)
class Entry:
    keys: dict[str, Spec]  # config key -> spec (default, type, range)
    build: Callable  # (torch params or optimizer, cfg, epochs, steps_per_epoch) -> object
    step: str = ""  # schedulers: batch | epoch | plateau


def param_groups(params, c: dict) -> list[dict]:
    """One group, or with ``decay_norm_bias: false`` two: weights decayed, 1-D tensors (biases, norm
    scales and shifts, the attention layer's w and b) not (WeSpeaker, timm)."""
    params = [p for p in params if p.requires_grad]
    if c["decay_norm_bias"]:
        return [{"params": params}]
    return [{"params": [p for p in params if p.ndim > 1]}, {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}]


def _sgd(params, c, *_):
    return torch.optim.SGD(
        param_groups(params, c), lr=c["lr"], momentum=c["momentum"], weight_decay=c["weight_decay"], nesterov=c["nesterov"]
    )


def _adam(cls):
    return lambda params, c, *_: cls(param_groups(params, c), lr=c["lr"], betas=tuple(c["betas"]), weight_decay=c["weight_decay"])


BETAS = Spec([0.9, 0.999], list, item=float, length=2, lo=0.0, hi=1.0, hi_open=True)
NORM_DECAY = Spec(True, bool)  # false: weight decay on weights (ndim > 1) only
OPTIMIZERS = {
    "SGD": Entry(
        {
            "lr": LR,
            "momentum": Spec(0.9, float, lo=0.0, hi=1.0),
            "weight_decay": Spec(5.0e-4, float, lo=0.0),
            "nesterov": Spec(False, bool),
            "decay_norm_bias": NORM_DECAY,
        },
        _sgd,
    ),
    "Adam": Entry(
        {"lr": Spec(1.0e-3, float, lo=0.0, lo_open=True), "betas": BETAS, "weight_decay": DECAY, "decay_norm_bias": NORM_DECAY},
        _adam(torch.optim.Adam),
    ),
    "AdamW": Entry(
        {
            "lr": Spec(1.0e-3, float, lo=0.0, lo_open=True),
            "betas": BETAS,
            "weight_decay": Spec(1.0e-2, float, lo=0.0),
            "decay_norm_bias": NORM_DECAY,
        },
        _adam(torch.optim.AdamW),
    ),
}


def _plateau(opt, c, *_):
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="min", factor=c["factor"], patience=c["patience"], min_lr=c["min_lr"]
    )


def _multistep(opt, c, *_):
    return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(c["milestones"]), gamma=c["factor"])


def _cosine(opt, c, total_steps, steps_per_epoch):
    """Cosine decay to ``min_lr`` at the end of the budget, after a linear warm-up over ``warmup`` of it."""
    warm = fraction_steps(c["warmup"], total_steps)
    if warm == 0:
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, total_steps), eta_min=c["min_lr"])
    floor = [c["min_lr"] / g["lr"] for g in opt.param_groups]

    def factor(floor_i):
        def f(step):
            if step < warm:
                return (step + 1) / warm
            t = min(1.0, (step - warm) / max(1, total_steps - warm))
            return floor_i + (1.0 - floor_i) * 0.5 * (1.0 + math.cos(math.pi * t))

        return f

    return torch.optim.lr_scheduler.LambdaLR(opt, [factor(fl) for fl in floor])


def _cyclic(opt, c, total_steps, steps_per_epoch):
    return torch.optim.lr_scheduler.CyclicLR(
        opt,
        base_lr=c["min_lr"],
        max_lr=c["max_lr"] or opt.param_groups[0]["lr"],
        step_size_up=max(1, 2 * steps_per_epoch),
        mode="triangular2",
        cycle_momentum=isinstance(opt, torch.optim.SGD),
    )


FACTOR = Spec(0.1, float, lo=0.0, hi=1.0, lo_open=True)
MIN_LR = Spec(1.0e-5, float, lo=0.0)
SCHEDULERS = {
    "ReduceLROnPlateau": Entry({"factor": FACTOR, "patience": Spec(2, int, lo=0), "min_lr": MIN_LR}, _plateau, "plateau"),
    "MultiStepLR": Entry({"milestones": Spec([], list, item=int), "factor": FACTOR}, _multistep, "epoch"),
    "CosineAnnealingLR": Entry({"min_lr": MIN_LR, "warmup": Spec(0.0, float, lo=0.0, hi=0.5)}, _cosine, "batch"),
    "CyclicLR": Entry({"min_lr": MIN_LR, "max_lr": Spec(0.0, float, lo=0.0)}, _cyclic, "batch"),
}


def build_optimizer(cfg: dict, params) -> torch.optim.Optimizer:
    """``cfg`` is a resolved ``optim`` section (name + that optimiser's keys)."""
    return OPTIMIZERS[cfg["name"]].build(params, cfg)


def build_scheduler(cfg: dict, optimizer, total_steps: int, steps_per_epoch: int):
    """(scheduler, when the loop steps it: batch | epoch | plateau); ``total_steps`` is the budget."""
    entry = SCHEDULERS[cfg["name"]]
    return entry.build(optimizer, cfg, total_steps, steps_per_epoch), entry.step
