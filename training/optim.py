"""Optimisers and LR schedulers: literal registries keyed by class name.

Each entry lists the config keys its class takes (with defaults, types and ranges); a scheduler also
says when the loop steps it: once per training ``batch``, once per ``epoch``, or once per epoch on
the validation loss (``plateau``, the paper's ReduceLROnPlateau). The loop names no scheduler.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from models.registry import Spec

LR = Spec(0.1, float, lo=0.0, lo_open=True)
DECAY = Spec(0.0, float, lo=0.0)


@dataclass(frozen=True)
class Entry:
    keys: dict[str, Spec]     # config key -> spec (default, type, range)
    build: Callable           # (torch params or optimizer, cfg, epochs, steps_per_epoch) -> object
    step: str = ""            # schedulers: batch | epoch | plateau


def _sgd(params, c, *_):
    return torch.optim.SGD(params, lr=c["lr"], momentum=c["momentum"], weight_decay=c["weight_decay"],
                           nesterov=c["nesterov"])


def _adam(cls):
    return lambda params, c, *_: cls(params, lr=c["lr"], betas=tuple(c["betas"]), weight_decay=c["weight_decay"])


BETAS = Spec([0.9, 0.999], list, item=float)
OPTIMIZERS = {
    "SGD": Entry({"lr": LR, "momentum": Spec(0.9, float, lo=0.0, hi=1.0), "weight_decay": Spec(5.0e-4, float, lo=0.0),
                  "nesterov": Spec(False, bool)}, _sgd),
    "Adam": Entry({"lr": Spec(1.0e-3, float, lo=0.0, lo_open=True), "betas": BETAS, "weight_decay": DECAY},
                  _adam(torch.optim.Adam)),
    "AdamW": Entry({"lr": Spec(1.0e-3, float, lo=0.0, lo_open=True), "betas": BETAS,
                    "weight_decay": Spec(1.0e-2, float, lo=0.0)}, _adam(torch.optim.AdamW)),
}


def _plateau(opt, c, *_):
    return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=c["factor"], patience=c["patience"],
                                                      min_lr=c["min_lr"])


def _multistep(opt, c, *_):
    return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(c["milestones"]), gamma=c["factor"])


def _cosine(opt, c, epochs, steps_per_epoch):
    return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs * steps_per_epoch), eta_min=c["min_lr"])


def _cyclic(opt, c, epochs, steps_per_epoch):
    return torch.optim.lr_scheduler.CyclicLR(opt, base_lr=c["min_lr"], max_lr=c["max_lr"] or opt.param_groups[0]["lr"],
                                             step_size_up=max(1, 2 * steps_per_epoch), mode="triangular2",
                                             cycle_momentum=isinstance(opt, torch.optim.SGD))


FACTOR = Spec(0.1, float, lo=0.0, hi=1.0, lo_open=True)
MIN_LR = Spec(1.0e-5, float, lo=0.0)
SCHEDULERS = {
    "ReduceLROnPlateau": Entry({"factor": FACTOR, "patience": Spec(2, int, lo=0), "min_lr": MIN_LR}, _plateau, "plateau"),
    "MultiStepLR": Entry({"milestones": Spec([], list, item=int), "factor": FACTOR}, _multistep, "epoch"),
    "CosineAnnealingLR": Entry({"min_lr": MIN_LR}, _cosine, "batch"),
    "CyclicLR": Entry({"min_lr": MIN_LR, "max_lr": Spec(0.0, float, lo=0.0)}, _cyclic, "batch"),
}


def build_optimizer(cfg: dict, params) -> torch.optim.Optimizer:
    """``cfg`` is a resolved ``optim`` section (name + that optimiser's keys)."""
    return OPTIMIZERS[cfg["name"]].build(params, cfg)


def build_scheduler(cfg: dict, optimizer, epochs: int, steps_per_epoch: int):
    """(scheduler, when the loop steps it: batch | epoch | plateau)."""
    entry = SCHEDULERS[cfg["name"]]
    return entry.build(optimizer, cfg, epochs, steps_per_epoch), entry.step
