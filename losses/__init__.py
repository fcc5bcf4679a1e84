"""Losses: margin heads (``margin.py``, registry ``LOSSES`` below); the metrics are in evaluation/."""

from __future__ import annotations

from torch import nn

from losses.margin import AAMSoftmax, AMSoftmax, Softmax
from core.errors import ConfigError
from core.spec import check_entry

LOSSES = {"Softmax": Softmax, "AMSoftmax": AMSoftmax, "AAMSoftmax": AAMSoftmax}


def check_loss_config(cfg: dict) -> None:
    check_entry("loss", LOSSES, cfg)


def build_loss(cfg: dict, emb_dim: int, num_classes: int) -> nn.Module:
    cls, args = check_entry("loss", LOSSES, cfg)
    try:
        return cls(emb_dim=emb_dim, num_classes=num_classes, **args)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"loss {cfg['name']}: {e}") from None
