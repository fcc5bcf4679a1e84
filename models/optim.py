"""Optimisers and LR schedulers from the ``optim`` / ``scheduler`` config sections.

ReduceLROnPlateau steps once per epoch on the validation loss (the paper); MultiStepLR once per
epoch at ``milestones``; CosineAnnealingLR and CyclicLR once per training step.
"""
from __future__ import annotations

import torch

PER_STEP = ("CosineAnnealingLR", "CyclicLR")


def build_optimizer(cfg: dict, params) -> torch.optim.Optimizer:
    name = cfg["name"]
    if name == "SGD":
        return torch.optim.SGD(params, lr=cfg["lr"], momentum=cfg["momentum"], weight_decay=cfg["weight_decay"],
                               nesterov=bool(cfg["nesterov"]))
    if name in ("Adam", "AdamW"):
        cls = torch.optim.Adam if name == "Adam" else torch.optim.AdamW
        return cls(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    raise ValueError(f"unknown optimizer {name!r}")


def build_scheduler(cfg: dict, optimizer, epochs: int, steps_per_epoch: int):
    name = cfg["name"]
    if name == "ReduceLROnPlateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=cfg["factor"],
                                                          patience=cfg["patience"], min_lr=cfg["min_lr"])
    if name == "MultiStepLR":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(cfg["milestones"]), gamma=cfg["factor"])
    if name == "CosineAnnealingLR":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs * steps_per_epoch),
                                                          eta_min=cfg["min_lr"])
    if name == "CyclicLR":
        max_lr = cfg["max_lr"] or optimizer.param_groups[0]["lr"]
        return torch.optim.lr_scheduler.CyclicLR(optimizer, base_lr=cfg["min_lr"], max_lr=max_lr,
                                                 step_size_up=max(1, 2 * steps_per_epoch), mode="triangular2",
                                                 cycle_momentum=isinstance(optimizer, torch.optim.SGD))
    raise ValueError(f"unknown scheduler {name!r}")
